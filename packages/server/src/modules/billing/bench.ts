/**
 * `npm run billing:bench`: holds + settles per second, on PGlite and (with DATABASE_URL) on PostgreSQL.
 * Prints a table; it asserts nothing. BENCH_SECONDS (default 5) and BENCH_CONCURRENCY (default 32) tune a run.
 *
 * Scenarios: each request holds its worst case then settles its real cost, as /v1 does, against
 *  - many wallets (one per concurrent worker: the normal case, no row contention), and
 *  - one hot wallet (every request on the same row: an organisation's shared wallet, the worst case).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { connectDatabase, type Database, type DatabaseConnection } from '../../db/client.js';
import { runMigrations } from '../../db/migrate.js';
import { LedgerBatcher } from './batcher.js';
import { ensureWallet, holdCredits, postEntry, settleHold, verifyLedger } from './ledger.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);

interface Row {
  database: string;
  scenario: string;
  writes: string;
  concurrency: number;
  'requests/s': number;
  'p50 ms': number;
  'p99 ms': number;
  'ledger ok': boolean;
}

async function fund(db: Database): Promise<string> {
  const wallet = await ensureWallet(db, { ownerType: 'user', ownerId: randomUUID() });
  await postEntry(db, { walletId: wallet.id, kind: 'grant', amount: 1e12, idempotencyKey: randomUUID() });
  return wallet.id;
}

interface Ledger {
  holdCredits: (options: Parameters<typeof holdCredits>[1]) => ReturnType<typeof holdCredits>;
  settleHold: (options: Parameters<typeof settleHold>[1]) => ReturnType<typeof settleHold>;
}

async function run(ledger: Ledger, walletIds: string[], workers: number) {
  const deadline = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let sequence = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      const walletId = walletIds[worker % walletIds.length]!;
      while (performance.now() < deadline) {
        const started = performance.now();
        const requestId = `bench-${++sequence}`;
        const hold = await ledger.holdCredits({ walletId, amount: 5_000, requestId });
        await ledger.settleHold({
          holdId: hold.holdId,
          amount: 1_234,
          references: { requestId, model: 'bench-model', priceVersion: 1 },
          details: { inputTokens: 500, outputTokens: 120, cachedInputTokens: 0 },
          idempotencyKey: `usage:${hold.holdId}`,
        });
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((left, right) => left - right);
  const at = (quantile: number) =>
    Number((latencies[Math.floor(latencies.length * quantile)] ?? 0).toFixed(2));
  return { perSecond: Math.round(latencies.length / seconds), p50: at(0.5), p99: at(0.99) };
}

async function bench(name: string, connection: DatabaseConnection, workers: number): Promise<Row[]> {
  const db = connection.db;
  const many = await Promise.all(Array.from({ length: workers }, () => fund(db)));
  const hot = [await fund(db)];
  // Warm up connections, plans and the system wallet cache.
  const single: Ledger = {
    holdCredits: (options) => holdCredits(db, options),
    settleHold: (options) => settleHold(db, options),
  };
  const batcher = new LedgerBatcher(db, { maxInFlight: connection.kind === 'pglite' ? 1 : 4 });
  await run(single, many, workers);
  const rows: Row[] = [];
  for (const [scenario, wallets] of [
    ['many wallets', many],
    ['one hot wallet', hot],
  ] as const) {
    for (const [writes, ledger] of [
      ['one statement per call', single],
      ['group commit', batcher],
    ] as const) {
      const result = await run(ledger, wallets, workers);
      rows.push({
        database: name,
        scenario,
        writes,
        concurrency: workers,
        'requests/s': result.perSecond,
        'p50 ms': result.p50,
        'p99 ms': result.p99,
        'ledger ok': (await verifyLedger(db)).length === 0,
      });
    }
  }
  return rows;
}

async function main() {
  const rows: Row[] = [];
  const pglite = await connectDatabase({ dataDir: 'memory://' });
  await runMigrations(pglite);
  try {
    // PGlite runs every statement one at a time on its worker thread: concurrency only queues.
    rows.push(...(await bench('pglite (worker thread)', pglite, concurrency)));
  } finally {
    await pglite.close();
  }
  if (process.env.DATABASE_URL) {
    // A scratch database on that server, dropped afterwards: the benchmark never writes to real books.
    const name = `webox_bench_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    const pool = await connectDatabase({ url: url.toString(), dataDir: 'unused', poolSize: concurrency });
    try {
      await runMigrations(pool);
      rows.push(...(await bench('postgresql', pool, concurrency)));
    } finally {
      await pool.close();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  }
  console.table(rows);
  process.stdout.write(
    `each request = hold + settle (1 statement each, or shared by a group commit); ${seconds}s per scenario; cpus: ${(await import('node:os')).cpus().length}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`billing bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
