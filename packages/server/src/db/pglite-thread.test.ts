import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ParserOptions, PGlite } from '@electric-sql/pglite';
import { eq, sql } from 'drizzle-orm';
import { TransactionRollbackError } from 'drizzle-orm/errors';
import { bigint, boolean, integer, jsonb, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteThread, type WorkerCrash } from './pglite-thread.js';

const samples = pgTable('samples', {
  id: integer('id').primaryKey(),
  big: bigint('big', { mode: 'number' }),
  huge: bigint('huge', { mode: 'bigint' }),
  at: timestamp('at', { mode: 'date' }),
  atZone: timestamp('at_zone', { mode: 'string', withTimezone: true }),
  amount: numeric('amount'),
  data: jsonb('data'),
  flag: boolean('flag'),
  tags: text('tags').array(),
});
const counters = pgTable('counters', { id: integer('id').primaryKey(), value: integer('value').notNull() });
const tables = `
  create table samples (id int primary key, big int8, huge int8, at timestamp, at_zone timestamptz,
    amount numeric, data jsonb, flag boolean, tags text[]);
  create table counters (id int primary key, value int not null);
`;

// Opening PGlite takes seconds on a busy machine: one worker and one in-process reference for the whole file.
let thread: PgliteThread;
let local: PGlite;
const threadDb = () => drizzle(thread as unknown as PGlite);
const localDb = () => drizzle(local);

beforeAll(async () => {
  [thread, local] = await Promise.all([PgliteThread.open('memory://'), PGlite.create()]);
  await Promise.all([thread.exec(tables), local.exec(tables)]);
  const rows = [
    {
      id: 1,
      big: 9_007_199_254_740_991,
      huge: 2n ** 62n,
      at: new Date('2024-02-29T23:59:59.123Z'),
      atZone: '2024-06-01 12:00:00.5+02',
      amount: '12345678901234567890.000001',
      data: { nested: [1, 'two', null], yes: true },
      flag: true,
      tags: ['a', 'b,c', ''],
    },
    {
      id: 2,
      big: null,
      huge: null,
      at: null,
      atZone: null,
      amount: null,
      data: null,
      flag: null,
      tags: null,
    },
  ];
  await Promise.all([threadDb().insert(samples).values(rows), localDb().insert(samples).values(rows)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([thread?.close(), local?.close()]);
});

/** Runs the same thing against the worker and the in-process PGlite and expects the same outcome. */
async function expectSame(run: (client: PGlite) => Promise<unknown>) {
  const [fromThread, fromLocal] = await Promise.all([
    run(thread as unknown as PGlite).catch(errorFields),
    run(local).catch(errorFields),
  ]);
  expect(fromThread).toEqual(fromLocal);
  return fromThread;
}

function errorFields(error: { name: string; message: string; code?: string; detail?: string }) {
  return { thrown: { name: error.name, message: error.message, code: error.code, detail: error.detail } };
}

describe('PGlite in a worker thread', () => {
  it('returns the same values as in-process PGlite: int8, bigint, timestamps, numeric, json, arrays, null', async () => {
    const rows = await expectSame((client) => drizzle(client).select().from(samples).orderBy(samples.id));
    expect(rows).toMatchObject([
      { big: 9_007_199_254_740_991, huge: 2n ** 62n, at: new Date('2024-02-29T23:59:59.123Z') },
      { big: null, at: null },
    ]);
    await expectSame((client) => drizzle(client).execute(sql`select * from samples where id = ${1}`));
    await expectSame((client) => client.query('select * from samples order by id'));
    await expectSame((client) =>
      client.query('select $1::int8 as a, $2::timestamptz as b, $3::text as c', [42, new Date(0), 'x'], {
        rowMode: 'array',
      }),
    );
  });

  it("applies the caller's parsers exactly where PGlite would (never on null)", async () => {
    // PGlite passes the type as a second argument, which its `Parser` type does not declare.
    const parsers = {
      20: (text: string, type: number) => `int8 ${text} (${type})`,
      1184: (text: string) => text,
    } as unknown as ParserOptions;
    const result = await expectSame((client) =>
      client.query('select big, at_zone, big as again from samples order by id', [], { parsers }),
    );
    expect(result).toMatchObject({
      rows: [
        { big: 'int8 9007199254740991 (20)', at_zone: '2024-06-01 10:00:00.5+00', again: expect.any(String) },
        { big: null, at_zone: null, again: null },
      ],
    });
    await expectSame((client) =>
      client.query('select big, 7::int8 as big from samples order by id', [], { parsers, rowMode: 'object' }),
    );
    await expectSame((client) => client.exec('select 1::int8 as one; select 2::int8 as two', { parsers }));
  });

  it('answers errors with their SQLSTATE and fields, without the query parameters', async () => {
    await expectSame((client) => client.query('select 1 / $1::int', [0]));
    await expectSame((client) => client.query('insert into samples (id) values ($1)', [1]));
    // In-process PGlite hangs the parameters on the error; they do not cross to the main thread.
    const statement = 'select $1::text as password, 1 / 0 as nothing';
    expect(await local.query(statement, ['hunter2']).catch((error) => error.params)).toEqual(['hunter2']);
    const error = await thread.query(statement, ['hunter2']).catch((error) => error);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'error', code: '22012', severity: 'ERROR', query: statement });
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain('hunter2');
  });

  it('surfaces a unique violation through Drizzle with code 23505', async () => {
    const db = threadDb();
    const error = await db
      .insert(samples)
      .values({ id: 1 })
      .catch((e) => e);
    expect(error.cause).toMatchObject({ code: '23505', constraint: 'samples_pkey', table: 'samples' });
  });

  it('commits a transaction, and rolls back one that throws with the original error', async () => {
    const db = threadDb();
    await db.transaction(async (tx) => {
      await tx.insert(counters).values({ id: 10, value: 1 });
    });
    const failure = new Error('changed my mind');
    const outcome = db.transaction(async (tx) => {
      await tx.insert(counters).values({ id: 11, value: 1 });
      throw failure;
    });
    await expect(outcome).rejects.toBe(failure);
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(counters).values({ id: 12, value: 1 });
        tx.rollback();
      }),
    ).rejects.toBeInstanceOf(TransactionRollbackError);
    const ids = await db
      .select({ id: counters.id })
      .from(counters)
      .where(sql`${counters.id} between 10 and 12`);
    expect(ids).toEqual([{ id: 10 }]);
  });

  it('rolls back a nested transaction (savepoint) alone', async () => {
    const db = threadDb();
    await db.transaction(async (tx) => {
      await tx.insert(counters).values({ id: 20, value: 1 });
      await tx
        .transaction(async (nested) => {
          await nested.insert(counters).values({ id: 21, value: 1 });
          throw new Error('inner only');
        })
        .catch(() => {});
      await tx.insert(counters).values({ id: 22, value: 1 });
    });
    const ids = await db
      .select({ id: counters.id })
      .from(counters)
      .where(sql`${counters.id} between 20 and 22`);
    expect(ids.map((row) => row.id).sort()).toEqual([20, 22]);
  });

  it("keeps PGlite's own transaction API: tx.rollback() ends it and the callback's value is returned", async () => {
    const result = await expectSame(async (client) => {
      const value = await client.transaction(async (tx) => {
        await tx.query('insert into counters values (30, 1)');
        await tx.rollback();
        return { closed: tx.closed, after: await tx.query('select 1').catch((error) => error.message) };
      });
      const { rows } = await client.query('select * from counters where id = 30');
      return { value, rows };
    });
    expect(result).toEqual({ value: { closed: true, after: 'Transaction is closed' }, rows: [] });
  });

  it('makes concurrent transactions exclusive while plain queries still complete', async () => {
    const db = threadDb();
    await db.insert(counters).values({ id: 40, value: 0 });
    const increments = Array.from({ length: 50 }, () =>
      db.transaction(async (tx) => {
        const [row] = await tx.select().from(counters).where(eq(counters.id, 40));
        await new Promise((resolve) => setImmediate(resolve)); // give another transaction every chance to interleave
        await tx
          .update(counters)
          .set({ value: row!.value + 1 })
          .where(eq(counters.id, 40));
      }),
    );
    const reads = Array.from({ length: 50 }, (_, index) => db.execute(sql`select ${index}::int as index`));
    const [, answers] = await Promise.all([Promise.all(increments), Promise.all(reads)]);
    expect(answers.map((answer) => answer.rows[0]?.index)).toEqual(
      Array.from({ length: 50 }, (_, index) => index),
    );
    const [counter] = await db.select().from(counters).where(eq(counters.id, 40));
    expect(counter?.value).toBe(50);
  });

  it('keeps the event loop turning while a heavy statement runs (in-process PGlite blocks it)', async () => {
    const ticksDuring = async (client: { query(sql: string): Promise<unknown> }) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      await client.query('select count(*) from generate_series(1, 3000000)');
      clearInterval(timer);
      return ticks;
    };
    expect(await ticksDuring(local)).toBeLessThanOrEqual(1);
    expect(await ticksDuring(thread)).toBeGreaterThanOrEqual(10);
  });
});

describe('a worker that dies', () => {
  it('rejects pending and later calls with a clear error instead of hanging', async () => {
    const doomed = await PgliteThread.open('memory://');
    const heavy = doomed.query('select count(*) from generate_series(1, 100000000)');
    const inTransaction = doomed.transaction((tx) => tx.query('select 1'));
    await doomed.terminateWorker();
    const stopped = /embedded database worker stopped unexpectedly/;
    await expect(heavy).rejects.toThrow(stopped);
    await expect(inTransaction).rejects.toThrow(stopped);
    await expect(doomed.query('select 1')).rejects.toThrow(stopped);
    await expect(doomed.close()).resolves.toBeUndefined();
  });

  it('is replaced on a folder: what it was running fails, committed data survives, later calls are served', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'webox-pglite-crash-'));
    const crashes: WorkerCrash[] = [];
    let heard!: () => void;
    const reopened = new Promise<void>((resolve) => {
      heard = resolve;
    });
    const database = await PgliteThread.open(directory, {
      onCrash: (crash) => {
        crashes.push(crash);
        heard();
      },
    });
    try {
      await database.exec('create table notes (id int primary key)');
      await database.query('insert into notes values (1)');
      let crash!: () => void;
      const crashed = new Promise<void>((resolve) => {
        crash = resolve;
      });
      const unfinished = database.transaction(async (tx) => {
        await tx.query('insert into notes values (2)');
        await crashed;
        await tx.query('insert into notes values (3)');
      });
      const heavy = database.query('select count(*) from generate_series(1, 100000000)');
      await new Promise((resolve) => setTimeout(resolve, 50));
      await database.terminateWorker();
      crash();
      await expect(heavy).rejects.toThrow(/embedded database worker stopped unexpectedly/);
      await expect(unfinished).rejects.toThrow();
      // Asked while the new worker opens the folder: queued, then answered.
      const rows = await database.query<{ id: number }>('select id from notes order by id');
      expect(rows.rows).toEqual([{ id: 1 }]);
      await reopened;
      expect(crashes).toEqual([{ error: expect.any(Error), restarted: true }]);
    } finally {
      await database.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('is given up on after crashing more than three times in a minute: every call fails from then on', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'webox-pglite-crash-'));
    const crashes: WorkerCrash[] = [];
    const database = await PgliteThread.open(directory, { onCrash: (crash) => crashes.push(crash) });
    try {
      // Killed again while each replacement is still opening the folder.
      for (let crash = 0; crash < 4; crash++) await database.terminateWorker();
      await expect(database.query('select 1')).rejects.toThrow(
        /embedded database worker stopped unexpectedly/,
      );
      expect(crashes).toEqual([{ error: expect.any(Error), restarted: false }]);
    } finally {
      await database.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
