/**
 * `npm run bench:in-process`: what the /v1 path costs in WeBox's own code, without the network.
 *
 * The whole app (the compiled server, as `npm start` runs it) is built in this process on a fresh PGlite database
 * and driven with Fastify's `inject()` against an undici MockAgent that answers the benchmark upstream's payloads
 * (bench/lib/payloads.ts). With no sockets and no other process sharing the machine's two cores, the CPU time and
 * garbage-collector pauses per request move far less than `npm run bench`'s req/s; it is the tool for an A/B of a
 * change to the hot path: build both checkouts and run this on each, interleaved (`--root`), and compare medians.
 *
 *   npm run bench:in-process                          billing on, non-streamed, 20,000 requests, 32 at a time
 *   npm run bench:in-process -- --mode stream --billing off --requests 5000 --concurrency 1
 *   npm run bench:in-process -- --rounds 5 --root ../other-checkout   interleaved with another build of WeBox
 *   npm run bench:in-process -- --profile cpu.cpuprofile --heap heap.heapprofile   profiles of the measured window
 *   npm run bench:in-process -- --profile cpu.cpuprofile --profile-interval 100      a sample every 100 µs (default 1 ms)
 *
 * Prints one line per round and a table of medians: CPU µs per request (all threads: the PGlite worker included),
 * the main thread's share of it (Linux), wall µs per request (the main thread's throughput), and the young- and
 * old-generation GC pauses per request. The heap profile samples every allocation, also what was collected since (what
 * a call allocates, not what it keeps).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MockAgent } from 'undici';
import { completionJson, streamEvents } from './lib/payloads.js';
import { buildServer, repositoryRoot, threadCpuTimeOf } from './lib/processes.js';
import { type ApiCall, BENCH_MODEL, benchGatewayConfig, prepareAccount } from './lib/webox.js';

const { values } = parseArgs({
  options: {
    billing: { type: 'string', default: 'on' },
    mode: { type: 'string', default: 'json' },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '1' },
    root: { type: 'string', multiple: true, default: [] },
    profile: { type: 'string' },
    'profile-interval': { type: 'string', default: '1000' },
    heap: { type: 'string' },
    // Internal: one measurement in this process, printed as JSON (the rounds run each in a fresh process).
    once: { type: 'boolean', default: false },
  },
});
const billing = values.billing === 'on';
const mode = values.mode === 'stream' ? 'stream' : 'json';
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
if (!(requests >= 100 && requests <= 1_000_000 && concurrency >= 1 && concurrency <= 1024)) {
  throw new Error('--requests must be 100..1,000,000 and --concurrency 1..1024');
}

interface Measurement {
  root: string;
  cpuUs: number;
  /** The main thread's CPU µs per request (the event loop: HTTP, routes, billing); NaN where /proc is missing. */
  mainCpuUs: number;
  wallUs: number;
  minorGcUs: number;
  majorGcUs: number;
  failed: number;
}

if (values.once) {
  process.stdout.write(`${JSON.stringify(await measureOnce(values.root[0] ?? repositoryRoot))}\n`);
  process.exit(0);
}
await main();

async function main() {
  const roots = [repositoryRoot, ...values.root.map((root) => path.resolve(root))];
  buildServer();
  const byRoot = new Map<string, Measurement[]>(roots.map((root) => [root, []]));
  for (let round = 0; round < Number(values.rounds); round++) {
    // Interleaved, and in reverse every other round, so a noisy neighbour weighs on every build alike.
    for (const root of round % 2 ? [...roots].reverse() : roots) {
      const output = execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--once',
          '--root',
          root,
          ...['--billing', values.billing, '--mode', mode, '--requests', String(requests)],
          ...['--concurrency', String(concurrency)],
          ...(values.profile ? ['--profile', values.profile] : []),
          ...['--profile-interval', values['profile-interval']],
          ...(values.heap ? ['--heap', values.heap] : []),
        ],
        { cwd: repositoryRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const measurement = JSON.parse(output.trim().split('\n').at(-1)!) as Measurement;
      byRoot.get(root)!.push(measurement);
      process.stdout.write(`round ${round + 1}  ${describe(measurement)}\n`);
    }
  }
  const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;
  process.stdout.write(
    `\nbilling ${values.billing}, ${mode}, ${requests} requests, ${concurrency} at a time (medians of ${values.rounds})\n`,
  );
  process.stdout.write(
    '| build | cpu µs/req | main thread µs/req | wall µs/req | young GC µs/req | old GC µs/req | failed |\n',
  );
  process.stdout.write('|---|---:|---:|---:|---:|---:|---:|\n');
  for (const [root, list] of byRoot) {
    const cell = (key: keyof Measurement) => median(list.map((entry) => entry[key] as number)).toFixed(0);
    process.stdout.write(
      `| ${path.relative(process.cwd(), root) || '.'} | ${cell('cpuUs')} | ${cell('mainCpuUs')} | ${cell('wallUs')} | ${cell('minorGcUs')} | ${cell('majorGcUs')} | ${cell('failed')} |\n`,
    );
  }
}

function describe(entry: Measurement): string {
  return `${entry.root}: cpu ${entry.cpuUs.toFixed(0)} µs/req (main thread ${entry.mainCpuUs.toFixed(0)}), wall ${entry.wallUs.toFixed(0)} µs/req, GC young ${entry.minorGcUs.toFixed(0)} / old ${entry.majorGcUs.toFixed(0)} µs/req, ${entry.failed} failed`;
}

/** Builds the app of `root` (its compiled dist), warms it up, then measures `requests` calls. */
async function measureOnce(root: string): Promise<Measurement> {
  const load = <T>(module: string): Promise<T> =>
    import(path.join(root, 'packages/server/dist', module)) as Promise<T>;
  const { buildApp } = await load<typeof import('../packages/server/src/app.js')>('app.js');
  const { loadEnv } = await load<typeof import('../packages/server/src/config/env.js')>('config/env.js');
  const { openServices } = await load<typeof import('../packages/server/src/services.js')>('services.js');
  const { ensureAdmin } = await load<typeof import('../packages/server/src/modules/accounts/service.js')>(
    'modules/accounts/service.js',
  );
  const { gatewayConfigSchema } = (await import(
    path.join(root, 'packages/gateway/dist/index.js')
  )) as typeof import('../packages/gateway/src/index.js');

  const folder = mkdtempSync(path.join(tmpdir(), 'webox-in-process-'));
  // Made up here, for this process only.
  const password = `in-process ${Math.random().toString(36).slice(2)}`;
  const email = 'bench-admin@example.com';
  const env = loadEnv({
    NODE_ENV: 'production',
    DATA_DIR: folder,
    ADMIN_EMAIL: email,
    ADMIN_PASSWORD: password,
    LOG_LEVEL: 'info',
    BILLING: billing ? 'on' : 'off',
  });
  const services = await openServices(env);
  await ensureAdmin(services.database.db, {
    email: env.ADMIN_EMAIL,
    password: env.ADMIN_PASSWORD,
    setupTokenTtlMinutes: env.SETUP_TOKEN_TTL_MINUTES,
    pubSub: services.stores.pubSub,
  });

  const origin = 'http://upstream.bench';
  const upstream = new MockAgent();
  upstream.disableNetConnect();
  upstream
    .get(origin)
    .intercept({ path: '/v1/chat/completions', method: 'POST' })
    .reply(200, mode === 'stream' ? streamEvents.join('') : completionJson, {
      headers: { 'content-type': mode === 'stream' ? 'text/event-stream' : 'application/json' },
    })
    .persist();
  const gatewayConfig = gatewayConfigSchema.parse(benchGatewayConfig(`${origin}/v1`));
  // BILLING picks the metering as it does for `npm start`: the billing module's ledger, or none.
  const app = await buildApp({
    env,
    database: services.database,
    stores: services.stores,
    gatewayConfig,
    upstreamDispatcher: upstream,
    logStream: { write() {} },
  });
  await app.ready();
  const api: ApiCall = async (method, url, payload, token) => {
    const answer = await app.inject({
      method,
      url,
      ...(payload ? { payload: payload as object } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    if (answer.statusCode >= 300) throw new Error(`${method} ${url} answered ${answer.statusCode}`);
    return answer.json() as Record<string, unknown>;
  };
  const account = await prepareAccount(api, { billing, email, password });
  const [key] = await account.createKeys(1);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const body = JSON.stringify({
    model: BENCH_MODEL,
    messages: [{ role: 'user', content: 'Hello, how are you today?' }],
    ...(mode === 'stream' ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
  const run = async (count: number) => {
    let started = 0;
    let failed = 0;
    const client = async () => {
      while (started < count) {
        started++;
        const answer = await app.inject({
          method: 'POST',
          url: '/v1/chat/completions',
          payload: body,
          headers,
        });
        if (answer.statusCode !== 200) failed++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    return failed;
  };

  await run(Math.min(3_000, requests));
  const session = values.profile || values.heap ? new Session() : undefined;
  session?.connect();
  if (values.profile) {
    await session!.post('Profiler.enable');
    await session!.post('Profiler.setSamplingInterval', { interval: Number(values['profile-interval']) });
    await session!.post('Profiler.start');
  }
  if (values.heap) {
    await session!.post('HeapProfiler.enable');
    await session!.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const pauses = { minor: 0, major: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) pauses.minor += entry.duration;
      else pauses.major += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const cpuBefore = process.cpuUsage();
  const mainBefore = mainThreadCpuUs();
  const startedAt = performance.now();
  const failed = await run(requests);
  const wallMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  const mainCpu = mainThreadCpuUs() - mainBefore;
  observer.disconnect();
  if (values.profile)
    writeFileSync(values.profile, JSON.stringify((await session!.post('Profiler.stop')).profile));
  if (values.heap) {
    writeFileSync(values.heap, JSON.stringify((await session!.post('HeapProfiler.stopSampling')).profile));
  }
  session?.disconnect();
  await app.close();
  await services.close();
  await upstream.close();
  rmSync(folder, { recursive: true, force: true });
  return {
    root: path.relative(repositoryRoot, root) || '.',
    cpuUs: (cpu.user + cpu.system) / requests,
    mainCpuUs: mainCpu / requests,
    wallUs: (wallMs * 1000) / requests,
    minorGcUs: (pauses.minor * 1000) / requests,
    majorGcUs: (pauses.major * 1000) / requests,
    failed,
  };
}

/** CPU µs of this process's main thread; NaN where there is no /proc. */
function mainThreadCpuUs(): number {
  try {
    return threadCpuTimeOf(process.pid);
  } catch {
    return Number.NaN;
  }
}
