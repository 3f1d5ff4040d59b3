/**
 * `npm run bench`: WeBox against the bare limit and against Portkey, side by side, in one run.
 *
 *   npm run bench                         the main table (5 targets × json/stream × 1/32/256 connections)
 *   npm run bench -- --duration 10        seconds per cell (default 5)
 *   npm run bench -- --only main,scale    parts: main, scale (2,000 SSE streams), cluster (N=1 vs N=2), soak
 *   npm run bench -- --soak               adds the soak (--soak-minutes N, default 10)
 *   npm run bench -- --profile            CPU profiles of WeBox (billing on and off, each mode, 32 connections)
 *   npm run bench -- --only scale --scale-webox-args="--upstream-connections 4096 --backlog 511"
 *                                         the scale test with a larger upstream pool and Node's default backlog
 *   npm run bench -- --rounds 3           measure each cell 3 times (interleaved), keep the median
 *   npm run bench -- --no-portkey         skip Portkey (it is installed on demand into bench/.portkey)
 *   npm run bench -- --modes json         non-streamed only (json, stream, or both: the default)
 *   npm run bench -- --source             WeBox from its TypeScript sources (tsx) instead of the compiled server
 *   npm run bench -- --baseline ../base   adds another checkout's WeBox (billing on; build it there first): an A/B
 *                                         of two builds in one table, cell by cell
 *
 * DATABASE_URL / REDIS_URL, when set, are used by WeBox (a fresh database per instance); else PGlite and memory.
 * Raw results go to bench/results/<timestamp>.json. All traffic stays on 127.0.0.1; every loop is bounded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensurePortkey } from './lib/portkey.js';
import {
  buildServer,
  ensureWrk,
  machine,
  repositoryRoot,
  type Started,
  startProcess,
  tsNode,
} from './lib/processes.js';
import { profileWebox } from './lib/profile.js';
import { runSoak } from './lib/soak.js';
import { runStreamScale } from './lib/stream-scale.js';
import { BENCH_MODEL, startWebox, type WeboxInstance } from './lib/webox.js';
import { errorCount, requestsPerSecond, runWrk, type WrkResult } from './lib/wrk.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '1,32,256' },
    modes: { type: 'string', default: 'json,stream' },
    only: { type: 'string' },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '10' },
    profile: { type: 'boolean', default: false },
    'no-portkey': { type: 'boolean', default: false },
    streams: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '1' },
    'scale-webox-args': { type: 'string' },
    source: { type: 'boolean', default: false },
    baseline: { type: 'string' },
  },
  allowPositionals: false,
});
const soakMinutes = Number(values['soak-minutes']);
const duration = Number(values.duration);
const levels = values.connections.split(',').map(Number);
const roundCount = Number(values.rounds);
const parts = new Set((values.only ?? 'main,scale,cluster').split(','));
if (values.soak) parts.add('soak');
if (!(soakMinutes > 0 && soakMinutes <= 240)) throw new Error('--soak-minutes must be 1..240');
if (!(duration > 0 && duration <= 600) || levels.some((level) => !(level >= 1 && level <= 4096))) {
  throw new Error('--duration must be 1..600 seconds and --connections 1..4096 each');
}

type Mode = 'json' | 'stream';
const modes = values.modes.split(',') as Mode[];
if (modes.length === 0 || modes.some((mode) => mode !== 'json' && mode !== 'stream')) {
  throw new Error('--modes must be json, stream or both');
}
const body = (mode: Mode) =>
  JSON.stringify({
    model: BENCH_MODEL,
    messages: [{ role: 'user', content: 'Hello, how are you today?' }],
    ...(mode === 'stream' ? { stream: true, stream_options: { include_usage: true } } : {}),
  });

interface Target {
  name: string;
  url: string;
  headers?: Record<string, string>;
  keys?: string[];
  /** The target's process, for its CPU time per request (the upstream's own is not counted). */
  pid?: number;
  /** The upstream behind a proxying target, for the CPU the whole machine spends on one of its requests. */
  upstreamPid?: number;
}

interface Cell {
  target: string;
  mode: Mode;
  connections: number;
  wrk: WrkResult;
}

const results: {
  /** Read once wrk is there (main() installs it when missing), so the record names its version. */
  machine?: ReturnType<typeof machine>;
  startedAt: string;
  settings: Record<string, unknown>;
  cells: Cell[];
  notes: string[];
  scale?: unknown;
  cluster?: Cell[];
  soak?: unknown;
  profile?: unknown;
} = {
  startedAt: new Date().toISOString(),
  settings: {
    durationSeconds: duration,
    connections: levels,
    rounds: roundCount,
    database: process.env.DATABASE_URL ? 'postgres' : 'pglite',
    stores: process.env.REDIS_URL ? 'redis' : 'memory',
    logLevel: process.env.LOG_LEVEL ?? 'info',
    webox: values.source ? 'typescript sources (tsx)' : 'compiled (packages/server/dist)',
  },
  cells: [],
  notes: [],
};

const log = (line: string) => process.stdout.write(`${line}\n`);
const running: Array<{ close(): Promise<void> }> = [];
const track = <T extends { close(): Promise<void> }>(thing: T): T => {
  running.push(thing);
  return thing;
};
const release = async (thing: { close(): Promise<void> }) => {
  running.splice(running.indexOf(thing), 1);
  await thing.close();
};
const asClosable = (started: Started) => ({ ...started, close: () => started.stop() });

function describe(cell: Cell) {
  const { wrk } = cell;
  const cpu = wrk.cpuUsPerRequest === undefined ? '' : `  cpu ${wrk.cpuUsPerRequest.toFixed(0)} µs/req`;
  return `  ${cell.target.padEnd(18)} ${cell.mode.padEnd(6)} c=${String(cell.connections).padEnd(4)} ${requestsPerSecond(wrk).toFixed(0).padStart(7)} req/s  p50 ${(wrk.latencyUs.p50 / 1000).toFixed(2)} ms  p99 ${(wrk.latencyUs.p99 / 1000).toFixed(2)} ms  errors ${errorCount(wrk)}${cpu}`;
}

/**
 * Measures every target cell by cell: for each mode and connection level, the targets run one after the other,
 * so a noisy neighbour on a shared machine weighs on all of them alike. With --rounds N, each cell is measured N
 * times (interleaved) and the round with the median req/s is kept.
 */
async function measureSideBySide(targets: Target[]): Promise<Cell[]> {
  // Warm the JIT and the connection pools before anything is recorded.
  for (const target of targets) {
    await runWrk({ ...target, connections: 32, durationSeconds: Math.min(2, duration), body: body('json') });
  }
  const cells: Cell[] = [];
  for (const mode of modes) {
    for (const connections of levels) {
      const rounds = new Map<string, Cell[]>();
      for (let round = 0; round < roundCount; round += 1) {
        for (const target of targets) {
          const wrk = await runWrk({ ...target, connections, durationSeconds: duration, body: body(mode) });
          rounds.set(target.name, [
            ...(rounds.get(target.name) ?? []),
            { target: target.name, mode, connections, wrk },
          ]);
        }
      }
      for (const target of targets) {
        const sorted = rounds
          .get(target.name)!
          .sort((a, b) => requestsPerSecond(a.wrk) - requestsPerSecond(b.wrk));
        const median = sorted[Math.floor(sorted.length / 2)]!;
        cells.push(median);
        log(describe(median));
      }
    }
  }
  return cells;
}

async function weboxTarget(instance: WeboxInstance, name: string): Promise<Target> {
  return {
    name,
    url: `${instance.origin}/v1/chat/completions`,
    keys: await instance.createKeys(2),
    pid: instance.child.pid,
  };
}

async function main() {
  ensureWrk();
  results.machine = machine();
  // WeBox runs as `npm start` runs it: compiled. tsx would also add a name-keeping call to every closure it creates.
  if (values.source) process.env.WEBOX_BENCH_SOURCE = '1';
  else buildServer();
  log(`machine: ${JSON.stringify(results.machine)}`);
  log(`settings: ${JSON.stringify(results.settings)}`);
  const upstream = track(
    asClosable(await startProcess({ name: 'fake upstream', ...tsNode('bench/servers/upstream.ts') })),
  );
  const chatPath = '/v1/chat/completions';

  if (parts.has('main')) {
    log('\n== main: every target against the same upstream ==');
    const targets: Target[] = [
      { name: 'upstream direct', url: `${upstream.origin}${chatPath}`, pid: upstream.child.pid },
    ];
    const bare = track(
      asClosable(
        await startProcess({
          name: 'bare proxy',
          ...tsNode('bench/servers/bare-proxy.ts', ['--upstream', upstream.origin]),
        }),
      ),
    );
    targets.push({ name: 'bare node proxy', url: `${bare.origin}${chatPath}`, pid: bare.child.pid });
    // Both WeBox instances stay up for the whole table; an idle one costs memory, not CPU.
    for (const billing of [true, false]) {
      const instance = track(await startWebox({ upstream: upstream.origin, billing }));
      targets.push(await weboxTarget(instance, `webox billing ${billing ? 'on' : 'off'}`));
    }
    if (values.baseline) {
      // Started and set up by the other checkout's own bench code, so each build is measured as its own bench would.
      const other = (await import(
        path.join(path.resolve(values.baseline), 'bench/lib/webox.ts')
      )) as typeof import('./lib/webox.js');
      const instance = track(await other.startWebox({ upstream: upstream.origin, billing: true }));
      targets.push(await weboxTarget(instance, 'webox baseline on'));
    }
    if (!values['no-portkey']) {
      try {
        const portkey = track(asClosable(await ensurePortkey()));
        targets.push({
          name: 'portkey 1.15.2',
          url: `${portkey.origin}${chatPath}`,
          pid: portkey.child.pid,
          headers: {
            'x-portkey-provider': 'openai',
            'x-portkey-custom-host': `${upstream.origin}/v1`,
            Authorization: 'Bearer sk-bench-upstream',
          },
        });
      } catch (error) {
        results.notes.push(`portkey skipped: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    for (const target of targets.slice(1)) target.upstreamPid = upstream.child.pid;
    results.cells.push(...(await measureSideBySide(targets)));
    for (const thing of running.splice(1).reverse()) await thing.close();
    printTable(results.cells);
  }

  if (parts.has('scale')) {
    log(`\n== streaming scale: ${values.streams} concurrent SSE streams, 20 tokens 50 ms apart ==`);
    results.scale = await runStreamScale({
      streams: Number(values.streams),
      log,
      ...(values['scale-webox-args'] ? { weboxArgs: values['scale-webox-args'].split(' ') } : {}),
    });
  }

  if (parts.has('cluster')) {
    log(
      '\n== several cores: WEBOX_WORKERS=1 against WEBOX_WORKERS=2 (billing on, 32 and 256 connections) ==',
    );
    if (!process.env.DATABASE_URL) {
      const note = 'cluster skipped: WEBOX_WORKERS>1 needs DATABASE_URL (PGlite serves one process)';
      results.notes.push(note);
      log(note);
    } else {
      results.cluster = [];
      for (const workers of [1, 2]) {
        const instance = track(await startWebox({ upstream: upstream.origin, billing: true, workers }));
        const target = await weboxTarget(instance, `webox N=${workers}`);
        for (const connections of [32, 256]) {
          if (connections === 32)
            await runWrk({ ...target, connections, durationSeconds: 2, body: body('json') });
          const wrk = await runWrk({ ...target, connections, durationSeconds: duration, body: body('json') });
          results.cluster.push({ target: target.name, mode: 'json', connections, wrk });
          log(
            `  ${target.name}  c=${connections}  ${requestsPerSecond(wrk).toFixed(0)} req/s  p99 ${(wrk.latencyUs.p99 / 1000).toFixed(2)} ms  errors ${errorCount(wrk)}`,
          );
        }
        await release(instance);
      }
    }
  }

  if (parts.has('soak')) {
    log(`\n== soak: ${soakMinutes} minutes of moderate load (WeBox billing on, 8 connections) ==`);
    const instance = track(await startWebox({ upstream: upstream.origin, billing: true }));
    results.soak = await runSoak({
      instance,
      target: await weboxTarget(instance, 'webox soak'),
      body: body('json'),
      minutes: soakMinutes,
      log,
    });
    await release(instance);
  }

  if (values.profile) {
    const profiles: Record<string, unknown> = {};
    results.profile = profiles;
    for (const mode of modes) {
      for (const billing of [true, false]) {
        const name = `billing ${billing ? 'on' : 'off'}, ${mode === 'json' ? 'non-streamed' : 'streamed'}`;
        log(`\n== CPU profile: WeBox ${name}, 32 connections ==`);
        profiles[name] = await profileWebox({
          upstream: upstream.origin,
          billing,
          mode,
          body: body(mode),
          duration,
          log,
        });
      }
    }
  }

  await release(upstream);
  const folder = path.join(repositoryRoot, 'bench/results');
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, `${results.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  for (const note of results.notes) log(`note: ${note}`);
  log(`\nraw results: ${path.relative(repositoryRoot, file)}`);
}

/**
 * CPU the whole machine spends on one request of a cell: the target, the upstream behind it (for the upstream direct
 * row, the target itself) and wrk. With every core busy, req/s is the cores' time over this, so `machine vs bare`
 * is the ratio of req/s a saturated machine gives, steadier than the measured one.
 */
function machineCpu(cell: Cell | undefined): number | undefined {
  const { cpuUsPerRequest, upstreamCpuUsPerRequest, wrkCpuUsPerRequest } = cell?.wrk ?? {};
  if (cpuUsPerRequest === undefined || wrkCpuUsPerRequest === undefined) return undefined;
  return cpuUsPerRequest + (upstreamCpuUsPerRequest ?? 0) + wrkCpuUsPerRequest;
}

function printTable(cells: Cell[]) {
  const find = (target: string, mode: Mode, connections: number) =>
    cells.find((cell) => cell.target === target && cell.mode === mode && cell.connections === connections);
  const ms = (us: number) => (us / 1000).toFixed(2);
  const header = [
    'mode',
    'conns',
    'target',
    'req/s',
    'p50 ms',
    'p99 ms',
    '+p50 ms',
    '+p99 ms',
    'errors',
    'vs bare',
    'vs portkey',
    'cpu µs/req',
    'cpu vs bare',
    'machine µs/req',
    'machine vs bare',
  ];
  const rows: string[][] = [];
  for (const cell of cells) {
    const direct = find('upstream direct', cell.mode, cell.connections);
    const bare = find('bare node proxy', cell.mode, cell.connections);
    const portkey = find('portkey 1.15.2', cell.mode, cell.connections);
    const rps = requestsPerSecond(cell.wrk);
    const ratio = (other: Cell | undefined) =>
      other && cell.target !== other.target && requestsPerSecond(other.wrk) > 0 && errorCount(other.wrk) === 0
        ? `${(rps / requestsPerSecond(other.wrk)).toFixed(2)}×`
        : other && errorCount(other.wrk) > 0 && cell.target !== other.target
          ? 'n/a (errors)'
          : '';
    rows.push([
      cell.mode,
      String(cell.connections),
      cell.target,
      rps.toFixed(0),
      ms(cell.wrk.latencyUs.p50),
      ms(cell.wrk.latencyUs.p99),
      direct && cell !== direct ? ms(cell.wrk.latencyUs.p50 - direct.wrk.latencyUs.p50) : '',
      direct && cell !== direct ? ms(cell.wrk.latencyUs.p99 - direct.wrk.latencyUs.p99) : '',
      String(errorCount(cell.wrk)),
      cell.target.startsWith('webox') || cell.target.startsWith('portkey') ? ratio(bare) : '',
      cell.target.startsWith('webox') ? ratio(portkey) : '',
      cell.wrk.cpuUsPerRequest === undefined ? '' : cell.wrk.cpuUsPerRequest.toFixed(0),
      cell.target !== 'bare node proxy' && bare?.wrk.cpuUsPerRequest && cell.wrk.cpuUsPerRequest
        ? `${(bare.wrk.cpuUsPerRequest / cell.wrk.cpuUsPerRequest).toFixed(2)}×`
        : '',
      machineCpu(cell)?.toFixed(0) ?? '',
      cell.target !== 'bare node proxy' && machineCpu(bare) && machineCpu(cell)
        ? `${(machineCpu(bare)! / machineCpu(cell)!).toFixed(2)}×`
        : '',
    ]);
  }
  rows.sort((a, b) => a[0]!.localeCompare(b[0]!) || Number(a[1]) - Number(b[1]));
  const widths = header.map((title, index) =>
    Math.max(title.length, ...rows.map((row) => row[index]!.length)),
  );
  const line = (row: string[]) =>
    `| ${row.map((value, index) => value.padEnd(widths[index]!)).join(' | ')} |`;
  log('');
  log(line(header));
  log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) log(line(row));
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const thing of running.splice(0).reverse()) await thing.close().catch(() => undefined);
  });
