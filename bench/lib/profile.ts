import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repositoryRoot, sleep } from './processes.js';
import { startWebox } from './webox.js';
import { runWrk } from './wrk.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a script lives, shortened: `pkg:fastify` for dependencies, the repository path for our own code. */
function place(url: string): string {
  if (!url) return '(native)';
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return `pkg:${dependency[1]}`;
  if (url.startsWith('node:')) return url;
  return url.replace(`file://${repositoryRoot}`, '');
}

/** Self time by function and by place, as shares of all samples (idle and GC included, so shares are honest). */
export function summariseProfile(profile: CpuProfile, top = 25) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfTime = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const total = [...selfTime.values()].reduce((sum, value) => sum + value, 0);
  const functions = new Map<string, number>();
  const places = new Map<string, number>();
  for (const [id, time] of selfTime) {
    const frame = byId.get(id)!.callFrame;
    const where = place(frame.url);
    const name = `${frame.functionName || '(anonymous)'}  ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + time);
    places.set(where, (places.get(where) ?? 0) + time);
  }
  const ranked = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => ({ name, percent: Math.round((time / total) * 1000) / 10 }));
  return { totalMs: Math.round(total / 1000), functions: ranked(functions), places: ranked(places) };
}

/**
 * Profiles WeBox over one window of 32 connections of load (`body` decides streamed or not), after a warm-up, and ranks its
 * hot spots. The profiler is switched on and off by SIGUSR2 (bench/servers/webox.ts), so start-up is left out.
 */
export async function profileWebox(options: {
  upstream: string;
  billing: boolean;
  /** Names the profile file: json or stream. */
  mode: string;
  body: string;
  duration: number;
  log: (line: string) => void;
}) {
  const directory = path.join(repositoryRoot, 'bench/results');
  mkdirSync(directory, { recursive: true });
  const file = path.join(
    directory,
    `webox-billing-${options.billing ? 'on' : 'off'}-${options.mode}-${Date.now()}.cpuprofile`,
  );
  const instance = await startWebox({
    upstream: options.upstream,
    billing: options.billing,
    extraArgs: ['--profile-file', file],
  });
  try {
    const keys = await instance.createKeys(2);
    const url = `${instance.origin}/v1/chat/completions`;
    await runWrk({ url, keys, connections: 32, durationSeconds: 2, body: options.body });
    const toggle = async (line: string) => {
      const before = instance.output().split(line).length;
      instance.child.kill('SIGUSR2');
      for (let waited = 0; waited < 10_000 && instance.output().split(line).length === before; waited += 50) {
        await sleep(50);
      }
    };
    await toggle('profiling');
    await runWrk({ url, keys, connections: 32, durationSeconds: options.duration, body: options.body });
    await toggle('profile written');
  } finally {
    await instance.close();
  }
  const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  options.log(`  profile: ${path.relative(repositoryRoot, file)} (${summary.totalMs} ms sampled)`);
  options.log('  self time by place:');
  for (const entry of summary.places) options.log(`    ${String(entry.percent).padStart(5)}%  ${entry.name}`);
  options.log('  self time by function:');
  for (const entry of summary.functions)
    options.log(`    ${String(entry.percent).padStart(5)}%  ${entry.name}`);
  return { file: path.relative(repositoryRoot, file), ...summary };
}
