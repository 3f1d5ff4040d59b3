import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database, DatabaseConnection } from '../../db/client.js';
import { databaseBackends } from '../../testing/backends.js';
import { queryRows } from '../billing/sql.js';
import { type UsageDatabase, type UsageRecord, UsageWriter } from './usage-writer.js';

const record = (overrides: Partial<UsageRecord> = {}): UsageRecord => ({
  requestId: randomUUID(),
  operation: 'chat',
  requestedModel: 'gpt-test',
  inputTokens: 10,
  outputTokens: 10,
  latencyMs: 12,
  status: 200,
  ...overrides,
});

for (const backend of databaseBackends()) {
  describe(`usage records when the database refuses them (${backend.name})`, () => {
    let database: DatabaseConnection;
    let failures: Array<{ code: string | undefined; lost: number; waiting: number }>;
    const onError = (error: unknown, outcome: { lost: number; waiting: number }) => {
      const cause = (error as { cause?: { code?: string } }).cause;
      failures.push({ code: cause?.code ?? (error as { code?: string }).code, ...outcome });
    };
    const written = async (requestIds: string[]) => {
      const rows = await queryRows<{ request_id: string }>(
        database.db,
        sql`select request_id from usage_records where request_id in (${sql.join(
          requestIds.map((id) => sql`${id}`),
          sql`, `,
        )})`,
      );
      return rows.map((row) => row.request_id);
    };
    // A real refusal that is not about the rows: the table is gone, as when a database is being restored.
    const takeTableAway = () =>
      database.db.execute(sql`alter table usage_records rename to usage_records_away`);
    const bringTableBack = () =>
      database.db.execute(sql`alter table usage_records_away rename to usage_records`);

    beforeAll(async () => {
      database = await backend.open();
    }, 60_000);
    afterAll(() => database.close());
    beforeEach(() => {
      failures = [];
    });

    it('loses only the row at fault when a batch holds a value the table refuses', async () => {
      const writer = new UsageWriter(database, { onError });
      const good = Array.from({ length: 9 }, () => record());
      const poisoned = record({ inputTokens: 3_000_000_000 });
      for (const row of [...good.slice(0, 4), poisoned, ...good.slice(4)]) writer.record(row);
      await writer.flush();
      expect((await written(good.map((row) => row.requestId))).sort()).toEqual(
        good.map((row) => row.requestId).sort(),
      );
      expect(await written([poisoned.requestId])).toEqual([]);
      // 22003: numeric value out of range.
      expect(failures).toEqual([{ code: '22003', lost: 1, waiting: 0 }]);
    });

    it('keeps what the database refused for another reason and writes it, once, when it accepts again', async () => {
      const writer = new UsageWriter(database, { onError, retryMs: 100 });
      await takeTableAway();
      const first = Array.from({ length: 5 }, () => record());
      for (const row of first) writer.record(row);
      await writer.flush();
      // 42P01: undefined table.
      expect(failures).toEqual([{ code: '42P01', lost: 0, waiting: 5 }]);
      const later = Array.from({ length: 3 }, () => record());
      for (const row of later) writer.record(row);
      await bringTableBack();
      const all = [...first, ...later].map((row) => row.requestId);
      await expect.poll(() => written(all), { timeout: 5_000 }).toHaveLength(8);
      expect((await written(all)).sort()).toEqual(all.sort());
      await writer.close();
      expect(failures.every((failure) => failure.lost === 0)).toBe(true);
    });

    it('writes a batch once when its commit was made but the answer was lost, and it is tried again', async () => {
      // The statement runs and commits in the real database; the writer is then told the connection dropped, as
      // node-postgres reports a socket closed before the server's answer arrived.
      // On PGlite the batch is a COPY, which has no `on conflict`: tried again, it is refused for the ids already there.
      let answersToLose = 1;
      const loseAnswer = async <Result>(answer: Promise<Result>) => {
        const result = await answer;
        if (answersToLose-- > 0) throw new Error('Connection terminated unexpectedly');
        return result;
      };
      const { copyFrom } = database;
      const answerLost: UsageDatabase = {
        db: new Proxy(database.db, {
          get(target, property, receiver) {
            if (property !== 'execute') return Reflect.get(target, property, receiver);
            return (...args: Parameters<Database['execute']>) => loseAnswer(target.execute(...args));
          },
        }),
        ...(copyFrom
          ? { copyFrom: (target: string, text: string) => loseAnswer(copyFrom(target, text)) }
          : {}),
      };
      const writer = new UsageWriter(answerLost, { onError, retryMs: 50 });
      const rows = Array.from({ length: 6 }, () => record());
      for (const row of rows) writer.record(row);
      await writer.flush();
      expect(failures).toEqual([{ code: undefined, lost: 0, waiting: 6 }]);
      // Tried again after 50 ms: every id is already there, so nothing is added.
      await expect.poll(() => answersToLose, { timeout: 5_000 }).toBeLessThan(0);
      await writer.close();
      const ids = rows.map((row) => row.requestId);
      expect((await written(ids)).sort()).toEqual([...ids].sort());
      expect(failures).toHaveLength(1);
    });

    it('keeps at most maxWaiting records while refused, and tells how many it dropped', async () => {
      const writer = new UsageWriter(database, { onError, retryMs: 60_000, maxWaiting: 10 });
      await takeTableAway();
      const kept = Array.from({ length: 4 }, () => record());
      for (const row of kept) writer.record(row);
      await writer.flush();
      const during = Array.from({ length: 20 }, () => record());
      for (const row of during) writer.record(row);
      await bringTableBack();
      await writer.flush();
      const ids = [...kept, ...during].map((row) => row.requestId);
      expect(await written(ids)).toHaveLength(10);
      expect(await written(kept.map((row) => row.requestId))).toHaveLength(4);
      expect(failures.map(({ lost, waiting }) => ({ lost, waiting }))).toEqual([
        { lost: 0, waiting: 4 },
        { lost: 14, waiting: 0 },
      ]);
    });

    it('reports as lost what the database still refuses when the server stops', async () => {
      const writer = new UsageWriter(database, { onError, retryMs: 60_000 });
      await takeTableAway();
      try {
        for (let index = 0; index < 3; index++) writer.record(record());
        await writer.close();
      } finally {
        await bringTableBack();
      }
      expect(failures.map(({ lost, waiting }) => ({ lost, waiting }))).toEqual([
        { lost: 0, waiting: 3 },
        { lost: 3, waiting: 0 },
      ]);
    });
  });

  describe(`usage records as written (${backend.name})`, () => {
    let database: DatabaseConnection;
    beforeAll(async () => {
      database = await backend.open();
    }, 60_000);
    afterAll(() => database.close());

    const stored = (ids: string[]) =>
      queryRows<Record<string, unknown>>(
        database.db,
        sql`select id, request_id, user_id, key_id, operation, requested_model, served_model, provider, attempts,
              input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, credits::text as credits,
              time_to_first_token_ms, latency_ms, status, error_code, stream, cache_hit,
              to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
            from usage_records where id in (${sql.join(
              ids.map((id) => sql`${id}::uuid`),
              sql`, `,
            )}) order by request_id`,
      );

    it('stores every field as recorded, whatever characters the text holds', async () => {
      const errors: unknown[] = [];
      const writer = new UsageWriter(database, { onError: (error) => errors.push(error) });
      // What a client controls (its request id, the model it names) may hold COPY's and JSON's special characters.
      const awkward = 'tab\there, new\nline, return\r, back\\slash, \\N, \\., "quotes", نموذج 🚀';
      const full: UsageRecord = {
        id: randomUUID(),
        requestId: `a ${awkward}`,
        userId: randomUUID(),
        keyId: randomUUID(),
        operation: 'chat',
        requestedModel: awkward,
        servedModel: 'served\tmodel',
        provider: 'openai:own-key',
        attempts: 2,
        inputTokens: 123,
        outputTokens: 456,
        cachedInputTokens: 7,
        reasoningTokens: 8,
        credits: 9_007_199_254_740_991,
        timeToFirstTokenMs: 42,
        latencyMs: 99,
        status: 502,
        errorCode: 'stream_interrupted',
        stream: true,
        cacheHit: true,
        createdAt: new Date('2026-03-04T05:06:07.089Z'),
      };
      // Only what the table requires: the rest takes the table's defaults.
      const bare: UsageRecord = {
        id: randomUUID(),
        requestId: 'b bare',
        operation: 'embeddings',
        requestedModel: 'embed',
        latencyMs: 1,
        status: 200,
      };
      const before = Date.now();
      writer.record(full);
      writer.record(bare);
      await writer.flush();
      const after = Date.now();
      expect(errors).toEqual([]);
      const [fullRow, bareRow] = await stored([full.id!, bare.id!]);
      expect(fullRow).toEqual({
        id: full.id,
        request_id: full.requestId,
        user_id: full.userId,
        key_id: full.keyId,
        operation: 'chat',
        requested_model: awkward,
        served_model: 'served\tmodel',
        provider: 'openai:own-key',
        attempts: 2,
        input_tokens: 123,
        output_tokens: 456,
        cached_input_tokens: 7,
        reasoning_tokens: 8,
        credits: '9007199254740991',
        time_to_first_token_ms: 42,
        latency_ms: 99,
        status: 502,
        error_code: 'stream_interrupted',
        stream: true,
        cache_hit: true,
        created_at: '2026-03-04T05:06:07.089Z',
      });
      const { created_at: bareCreatedAt, ...bareRest } = bareRow!;
      expect(bareRest).toEqual({
        id: bare.id,
        request_id: 'b bare',
        user_id: null,
        key_id: null,
        operation: 'embeddings',
        requested_model: 'embed',
        served_model: null,
        provider: null,
        attempts: 0,
        input_tokens: 0,
        output_tokens: 0,
        cached_input_tokens: 0,
        reasoning_tokens: 0,
        credits: '0',
        time_to_first_token_ms: null,
        latency_ms: 1,
        status: 200,
        error_code: null,
        stream: false,
        cache_hit: false,
      });
      const createdAt = Date.parse(bareCreatedAt as string);
      expect(createdAt).toBeGreaterThanOrEqual(before - 1_000);
      expect(createdAt).toBeLessThanOrEqual(after + 1_000);
    });

    it('skips a record whose id is already there and writes the rest of its batch', async () => {
      const errors: unknown[] = [];
      const writer = new UsageWriter(database, { onError: (error) => errors.push(error) });
      const existing = record({ id: randomUUID(), requestId: 'c existing', inputTokens: 1 });
      writer.record(existing);
      await writer.flush();
      const fresh = [
        record({ id: randomUUID(), requestId: 'd fresh' }),
        record({ id: randomUUID(), requestId: 'e fresh' }),
      ];
      writer.record(fresh[0]!);
      writer.record({ ...existing, inputTokens: 2 });
      writer.record(fresh[1]!);
      // The same id twice in one batch: the first one is written, as an insert's `on conflict do nothing` does.
      writer.record({ ...fresh[1]!, requestId: 'f again' });
      await writer.flush();
      expect(errors).toEqual([]);
      const rows = await stored([existing.id!, ...fresh.map((row) => row.id!)]);
      expect(rows.map((row) => [row.request_id, row.input_tokens])).toEqual([
        ['c existing', 1],
        ['d fresh', 10],
        ['e fresh', 10],
      ]);
    });
  });
}
