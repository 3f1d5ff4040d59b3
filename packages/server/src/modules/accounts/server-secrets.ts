import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { serverSecrets } from './tables.js';

/**
 * Returns the secret stored under `name`, creating it with `generate()` the first time. Concurrent first starts of
 * several processes agree on one value: the first insert wins and everyone reads it back.
 */
export async function getOrCreateServerSecret(
  db: Database,
  name: string,
  generate: () => string,
): Promise<string> {
  await db.insert(serverSecrets).values({ name, value: generate() }).onConflictDoNothing();
  const [row] = await db.select().from(serverSecrets).where(eq(serverSecrets.name, name)).limit(1);
  if (!row) throw new Error(`server secret ${name} could not be stored`);
  return row.value;
}

/** Replaces a stored secret (master-key rotation). */
export async function setServerSecret(db: Database, name: string, value: string): Promise<void> {
  await db
    .insert(serverSecrets)
    .values({ name, value })
    .onConflictDoUpdate({ target: serverSecrets.name, set: { value } });
}
