import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseConnection } from '../db/client.js';
import { loggerOptions } from './logging.js';

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

    let output = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        output += chunk.toString();
        done();
      },
    });
    pino(loggerOptions('info'), sink).error({ err: failure }, 'a statement failed');
    const line = JSON.parse(output) as { err: { message: string; stack: string; query: string } };
    expect(output).not.toContain(secret);
    expect(line.err.message).toMatch(/^Failed query: select \$1::text as code, 1 \/ 0 as broken/);
    expect(line.err.query).toBe('select $1::text as code, 1 / 0 as broken');
    expect(line.err.stack).toContain('division by zero');
  });
});
