import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseConnection } from '../db/client.js';
import { loggerOptions } from './logging.js';

/** The line the server's logger writes for an error. */
function logged(error: unknown): string {
  let output = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  pino(loggerOptions('info'), sink).error({ err: error }, 'a statement failed');
  return output;
}

describe('error log lines', () => {
  let database: DatabaseConnection;
  beforeAll(async () => {
    database = await connectDatabase({ dataDir: 'memory://' });
  }, 60_000);
  afterAll(() => database.close());

  it("name a failed query's statement and database error, never its parameter values", async () => {
    const secret = `one-time-code-${Date.now()}`;
    const failure = await database.db.execute(sql`select ${secret}::text as code, 1 / 0 as broken`).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(String((failure as Error).message)).toContain(secret);

    const output = logged(failure);
    const line = JSON.parse(output) as { err: { message: string; stack: string; query: string } };
    expect(output).not.toContain(secret);
    expect(line.err.message).toMatch(/^Failed query: select \$1::text as code, 1 \/ 0 as broken/);
    expect(line.err.query).toBe('select $1::text as code, 1 / 0 as broken');
    expect(line.err.stack).toContain('division by zero');
  });

  it('leave out the value PostgreSQL quotes when it refuses one', async () => {
    const secret = `one-time-code-${Date.now()}`;
    const tooBig = String(9_000_000_000 + (Date.now() % 1_000_000));
    for (const [statement, kept] of [
      [sql`select ${secret}::uuid`, 'invalid input syntax for type uuid'],
      [sql`select ${tooBig}::int`, 'value out of range for type integer'],
    ] as const) {
      const failure = await database.db.execute(statement).then(
        () => undefined,
        (error: unknown) => error,
      );
      const output = logged(failure);
      expect(output).not.toContain(secret);
      expect(output).not.toContain(tooBig);
      expect((JSON.parse(output) as { err: { message: string } }).err.message).toContain(kept);
    }
  });
});
