import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type FakeUpstream, startFakeUpstream } from '@webox/gateway/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connectDatabase, type DatabaseConnection } from '../../db/client.js';
import { runMigrations } from '../../db/migrate.js';
import { openFreshPostgres } from '../../testing/backends.js';
import { fakeCompletion, tenTokenRequest } from '../../testing/gateway-harness.js';
import { freePort, type SpawnedServer, startServerProcess } from '../../testing/spawn-server.js';
import { users } from '../accounts/tables.js';
import { ensureWallet, expireHolds, getBalance, postEntry, verifyLedger } from '../billing/ledger.js';
import { renewPlans, setWalletPlan } from '../billing/plans.js';
import { loadPriceBook, syncPriceBook } from '../billing/prices.js';
import { queryRows } from '../billing/sql.js';
import { createVirtualKey } from './keys-service.js';

/**
 * Billing across real server processes: several processes racing on one wallet through PostgreSQL and Redis, and a
 * process killed with SIGKILL in the middle of paid requests. Each test starts the real entry point (src/server.ts).
 */

const models = {
  'gpt-test': {
    provider: 'primary',
    model: 'gpt-4o-mini',
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    capabilities: ['chat'],
    price: { inputPerMillion: 150_000, outputPerMillion: 600_000 },
  },
};
// The fake provider reports exactly what the hold assumes, so a wallet affords an exact number of requests.
const body = JSON.stringify(tenTokenRequest);

/** Temporary folders of this file, removed after it. */
const folders: string[] = [];

async function writeConfig(upstream: FakeUpstream): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'webox-config-'));
  folders.push(directory);
  const file = path.join(directory, 'webox.config.yaml');
  await writeFile(
    file,
    stringify({
      providers: {
        primary: {
          type: 'openai-compatible',
          baseUrl: `${upstream.url}/v1`,
          keys: [`test-${randomBytes(6).toString('hex')}`],
          allowPrivateNetwork: true,
        },
      },
      models,
    }),
  );
  return file;
}

/** A person with a key and a pro-plan wallet funded for exactly `requests` of the test request. */
async function payingCustomer(db: DatabaseConnection['db'], requests: number) {
  await syncPriceBook(db, models);
  const book = await loadPriceBook(db);
  const cost = book.priceUsage({
    model: 'gpt-test',
    usage: { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 },
    plan: { priceMultiplierPermille: 1000 },
  }).credits;
  const [user] = await db
    .insert(users)
    .values({
      email: `race-${randomBytes(4).toString('hex')}@example.com`,
      name: 'Race',
      emailVerifiedAt: new Date(),
    })
    .returning();
  const wallet = await ensureWallet(db, { ownerType: 'user', ownerId: user!.id });
  await setWalletPlan(db, { walletId: wallet.id, plan: 'pro' });
  // The month's plan credits are granted now (renewal is idempotent per month), so the servers' renewal job adds
  // nothing later and the wallet then holds exactly what `requests` cost.
  await renewPlans(db, { timeZone: 'Africa/Algiers' });
  const { available } = await getBalance(db, wallet.id);
  await postEntry(db, {
    walletId: wallet.id,
    kind: 'adjustment',
    amount: cost * requests - available,
    reason: 'test: fund exactly the requests under test',
    idempotencyKey: `fund-${wallet.id}`,
  });
  const { key } = await createVirtualKey(db, { userId: user!.id, name: 'race' });
  return { walletId: wallet.id, key, cost };
}

async function send(origin: string, key: string): Promise<number> {
  try {
    const response = await fetch(`${origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/**
 * The ledger balances; the wallet's usage entries stand for exactly `requests` paid calls (a leased batch writes one
 * entry for many, `details.requests`) and charge what those calls' usage records say (written in batches: check
 * after the processes stopped); no request is in two entries.
 */
async function expectChargedOnceEach(db: DatabaseConnection['db'], walletId: string, requests: number) {
  expect(await verifyLedger(db)).toEqual([]);
  const [ledger] = await queryRows<{ calls: number; credits: string }>(
    db,
    sql`select coalesce(sum(coalesce((details->>'requests')::int, 1)), 0)::int as calls,
          coalesce(-sum(amount), 0)::text as credits
        from ledger_entries where wallet_id = ${walletId} and kind = 'usage'`,
  );
  const [records] = await queryRows<{ calls: number; credits: string }>(
    db,
    sql`select count(*)::int as calls, coalesce(sum(credits), 0)::text as credits from usage_records where credits > 0`,
  );
  expect(ledger).toEqual({ calls: requests, credits: records!.credits });
  expect(records!.calls).toBe(requests);
  expect(await requestsChargedTwice(db, walletId)).toEqual([]);
}

function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** Request ids found in more than one usage entry of the wallet (a leased batch's entry names none). */
async function requestsChargedTwice(db: DatabaseConnection['db'], walletId: string) {
  return queryRows<{ request_id: string }>(
    db,
    sql`select request_id from ledger_entries
        where wallet_id = ${walletId} and kind = 'usage' and request_id is not null
        group by request_id having count(*) > 1`,
  );
}

describe('billing across real server processes', { timeout: 300_000 }, () => {
  let upstream: FakeUpstream;
  let configFile: string;
  const servers: SpawnedServer[] = [];

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    configFile = await writeConfig(upstream);
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await upstream.close();
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
  });

  const postgresUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;

  it.skipIf(!postgresUrl || !redisUrl)(
    'three processes sharing PostgreSQL and Redis never spend more than the wallet holds',
    async () => {
      const database = await openFreshPostgres(postgresUrl!);
      try {
        const { walletId, key, cost } = await payingCustomer(database.db, 100);
        upstream.setHandler(() => fakeCompletion());
        const environment = {
          DATABASE_URL: database.url,
          REDIS_URL: redisUrl!,
          REDIS_PREFIX: `webox_t_${randomBytes(4).toString('hex')}:`,
          WEBOX_CONFIG: configFile,
          // Quiet: a log line per request from three processes is not what this test is about.
          LOG_LEVEL: 'warn',
        };
        const started = await Promise.all(
          [1, 2, 3].map(async () => startServerProcess({ ...environment, PORT: String(await freePort()) })),
        );
        servers.push(...started);
        const statuses = await Promise.all(
          Array.from({ length: 1_000 }, (_, index) => send(started[index % 3]!.url, key)),
        );
        expect(tally(statuses)).toEqual({ 200: 100, 402: 900 });
        expect(await getBalance(database.db, walletId)).toMatchObject({ balance: 0, held: 0 });
        // A graceful stop writes the usage records still waiting for their batch, which the check compares with.
        expect(await Promise.all(started.map((server) => server.stop('SIGTERM')))).toEqual([0, 0, 0]);
        await expectChargedOnceEach(database.db, walletId, 100);
        expect(cost).toBeGreaterThan(0);
      } finally {
        await database.close();
      }
    },
  );

  it.skipIf(!postgresUrl || !redisUrl)(
    'three processes leasing one wallet far from empty charge each request exactly once and give leases back',
    async () => {
      const database = await openFreshPostgres(postgresUrl!);
      try {
        // Far from empty: each process takes a credit lease instead of a hold row per request.
        const funded = 100_000;
        const { walletId, key, cost } = await payingCustomer(database.db, funded);
        upstream.setHandler(() => fakeCompletion());
        const environment = {
          DATABASE_URL: database.url,
          REDIS_URL: redisUrl!,
          REDIS_PREFIX: `webox_t_${randomBytes(4).toString('hex')}:`,
          WEBOX_CONFIG: configFile,
          LOG_LEVEL: 'warn',
        };
        const started = await Promise.all(
          [1, 2, 3].map(async () => startServerProcess({ ...environment, PORT: String(await freePort()) })),
        );
        servers.push(...started);
        const statuses = await Promise.all(
          Array.from({ length: 1_000 }, (_, index) => send(started[index % 3]!.url, key)),
        );
        expect(tally(statuses)).toEqual({ 200: 1_000 });
        const [leases] = await queryRows<{ count: number }>(
          database.db,
          sql`select count(*)::int as count from credit_holds where wallet_id = ${walletId} and request_id like 'lease:%'`,
        );
        expect(leases!.count).toBeGreaterThan(0);
        // A graceful stop writes what is pending and returns each lease: nothing stays held, without any TTL.
        expect(await Promise.all(started.map((server) => server.stop('SIGTERM')))).toEqual([0, 0, 0]);
        expect(await getBalance(database.db, walletId)).toMatchObject({
          balance: (funded - 1_000) * cost,
          held: 0,
        });
        await expectChargedOnceEach(database.db, walletId, 1_000);
      } finally {
        await database.close();
      }
    },
  );

  /**
   * The database a server process of the test uses: a fresh PostgreSQL database when one is configured (the scale-out
   * path is the one at risk), else PGlite (the default) in `dataDir`. `open` opens it here, migrated; the PGlite one
   * must be closed again before a server process takes the folder.
   */
  async function testDatabase(dataDir: string) {
    const fresh = postgresUrl ? await openFreshPostgres(postgresUrl) : undefined;
    const open = async () => {
      if (fresh) return fresh;
      const connection = await connectDatabase({ dataDir });
      await runMigrations(connection);
      return connection;
    };
    return { fresh, open };
  }

  /**
   * Twenty paid streams of about a second each (ten tokens 100 ms apart, then the usage the hold assumed), on a
   * wallet far from empty (so they are served from a credit lease), and SIGTERM once all have begun. Resolves once the
   * process has exited, with what each client received and the database opened again.
   */
  async function stopDuringStreams(shutdownTimeoutMs: number) {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'webox-stop-'));
    folders.push(dataDir);
    const { fresh, open } = await testDatabase(dataDir);
    let database = await open();
    const funded = 10_000;
    const { walletId, key, cost } = await payingCustomer(database.db, funded);
    if (!fresh) await database.close();

    const chunk = (delta: object, extra: object = {}) =>
      JSON.stringify({
        id: 'chatcmpl-stop',
        object: 'chat.completion.chunk',
        created: 1_741_569_952,
        model: 'gpt-4o-mini',
        choices: [{ index: 0, delta, finish_reason: null }],
        ...extra,
      });
    upstream.setHandler(() => ({
      kind: 'sse',
      eventDelayMs: 100,
      events: [
        ...Array.from({ length: 10 }, (_, index) => ({ data: chunk({ content: `t${index} ` }) })),
        {
          data: chunk(
            {},
            { choices: [], usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 } },
          ),
        },
        { data: '[DONE]' },
      ],
    }));
    const server = await startServerProcess({
      ...(fresh ? { DATABASE_URL: fresh.url } : { DATA_DIR: dataDir }),
      WEBOX_CONFIG: configFile,
      SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
      PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    });
    servers.push(server);
    // Every stream has begun (its headers came with the first token) before the stop: a request arriving after it
    // would be refused with a 503, which is not what this is about.
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${server.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...tenTokenRequest, stream: true }),
        }),
      ),
    );
    const stopped = server.stop('SIGTERM');
    const received = await Promise.all(
      responses.map(async (response) => {
        // A stream cut by the shutdown bound ends in a network error: what arrived before it is what counts.
        let text = '';
        const decoder = new TextDecoder();
        try {
          for await (const part of response.body!) text += decoder.decode(part, { stream: true });
          return { status: response.status, text, complete: true };
        } catch {
          return { status: response.status, text, complete: false };
        }
      }),
    );
    const exitCode = await stopped;
    database = await open();
    return { exitCode, received, database, walletId, cost, funded };
  }

  it('a graceful stop lets paid streams in flight finish: each is answered to its end, charged once, and nothing stays held', async () => {
    const { exitCode, received, database, walletId, cost, funded } = await stopDuringStreams(10_000);
    try {
      expect(exitCode).toBe(0);
      for (const { status, text, complete } of received) {
        expect({ status, complete }).toEqual({ status: 200, complete: true });
        expect(text.match(/t\d /g)).toHaveLength(10);
        expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      }
      expect(await getBalance(database.db, walletId)).toMatchObject({
        balance: (funded - 20) * cost,
        held: 0,
      });
      await expectChargedOnceEach(database.db, walletId, 20);
      const [records] = await queryRows<{ count: number }>(
        database.db,
        sql`select count(*)::int as count from usage_records where stream and status = 200 and output_tokens = 10`,
      );
      expect(records!.count).toBe(20);
    } finally {
      await database.close();
    }
  });

  it('streams cut at the shutdown bound are charged only for what was sent, once each, and leave nothing held', async () => {
    const { exitCode, received, database, walletId, cost, funded } = await stopDuringStreams(300);
    try {
      expect(exitCode).toBe(0);
      expect(received.every(({ status, complete }) => status === 200 && !complete)).toBe(true);
      const { balance, held } = await getBalance(database.db, walletId);
      expect(held).toBe(0);
      // Each cut stream pays for its prompt and the tokens it received (a few of the ten), once.
      await expectChargedOnceEach(database.db, walletId, 20);
      expect(balance).toBeGreaterThan((funded - 20) * cost);
      expect(balance).toBeLessThan(funded * cost);
      const records = await queryRows(
        database.db,
        sql`select status, error_code, count(*)::int as count from usage_records group by status, error_code`,
      );
      expect(records).toEqual([{ status: 499, error_code: 'client_disconnected', count: 20 }]);
    } finally {
      await database.close();
    }
  });

  it('survives kill -9 during paid load: after restart the ledger balances, no hold outlives its TTL, nothing is charged twice', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'webox-crash-'));
    folders.push(dataDir);
    const { fresh, open } = await testDatabase(dataDir);
    let database = await open();
    const { walletId, key } = await payingCustomer(database.db, 1_000);
    if (!fresh) await database.close();

    const environment = {
      ...(fresh ? { DATABASE_URL: fresh.url } : { DATA_DIR: dataDir }),
      WEBOX_CONFIG: configFile,
      HOLD_TTL_SECONDS: '5',
      LOG_LEVEL: 'info',
    };
    // The first ten calls are answered (settled before the kill); the rest hang at the upstream, so the kill finds
    // calls in flight with their credits held, however fast the machine (a fixed wait once found none left).
    let forwarded = 0;
    upstream.setHandler(() => (++forwarded <= 10 ? fakeCompletion() : { kind: 'hang' }));
    const first = await startServerProcess(environment);
    servers.push(first);
    const answered: number[] = [];
    const load = Promise.all(
      Array.from({ length: 60 }, async () => {
        const status = await send(first.url, key);
        answered.push(status);
        return status;
      }),
    );
    await expect.poll(() => answered.includes(200) && forwarded > 10).toBe(true);
    const killedAt = Date.now();
    await first.stop('SIGKILL');
    const beforeRestart = tally(await load);
    expect(beforeRestart[200]).toBeGreaterThan(0);
    expect(beforeRestart[0]).toBeGreaterThan(0);

    upstream.setHandler(() => fakeCompletion());
    const second = await startServerProcess(environment);
    servers.push(second);
    expect(await send(second.url, key)).toBe(200);
    expect(await second.stop('SIGTERM')).toBe(0);

    database = await open();
    try {
      // Holds of the killed process expire at their TTL: sweep as the periodic job would, just past it.
      await expireHolds(database.db, new Date(killedAt + 6_000));
      const balance = await getBalance(database.db, walletId);
      expect(balance.held).toBe(0);
      expect(await verifyLedger(database.db)).toEqual([]);
      expect(await requestsChargedTwice(database.db, walletId)).toEqual([]);
    } finally {
      await database.close();
    }
  });
});
