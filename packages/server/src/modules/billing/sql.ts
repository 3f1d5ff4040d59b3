import type { SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';

/** Runs one raw statement and returns its rows; both drivers answer `{ rows }`. */
export async function queryRows<Row>(db: Database, statement: SQL): Promise<Row[]> {
  const result = await db.execute(statement);
  return (result as unknown as { rows: Row[] }).rows;
}

/** int8 arrives as a string from node-postgres and as a number from PGlite; credits stay below 2^53. */
export function toCredits(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(number))
    throw new Error(`not a safe integer amount of credits: ${String(value)}`);
  return number;
}
