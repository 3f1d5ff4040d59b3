import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database, DatabaseConnection } from '../../db/client.js';
import { databaseBackends } from '../../testing/backends.js';
import { queryRows } from '../billing/sql.js';
import { type UsageRecord, UsageWriter } from './usage-writer.js';

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
      const writer = new UsageWriter(database.db, { onError });
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
      const writer = new UsageWriter(database.db, { onError, retryMs: 100 });
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
      let answersToLose = 1;
      const answerLost = new Proxy(database.db, {
        get(target, property, receiver) {
          if (property !== 'execute') return Reflect.get(target, property, receiver);
          return async (...args: Parameters<Database['execute']>) => {
            const result = await target.execute(...args);
            if (answersToLose-- > 0) throw new Error('Connection terminated unexpectedly');
            return result;
          };
        },
      });
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
      const writer = new UsageWriter(database.db, { onError, retryMs: 60_000, maxWaiting: 10 });
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
      const writer = new UsageWriter(database.db, { onError, retryMs: 60_000 });
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
}
