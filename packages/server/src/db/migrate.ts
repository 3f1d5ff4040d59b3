import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { migrate as migrateNodePostgres } from 'drizzle-orm/node-postgres/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { DatabaseConnection } from './client.js';

/** The committed drizzle-kit migrations (packages/server/drizzle), the same for src and dist. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

export async function runMigrations(connection: DatabaseConnection): Promise<void> {
  await connection.withMigrationLock(async (db) => {
    // Both migrators only read the handle's session; the kind decides which dialect driver runs them.
    if (connection.kind === 'pglite') await migratePglite(db as never, { migrationsFolder });
    else await migrateNodePostgres(db as never, { migrationsFolder });
  });
}

/** How many committed migrations exist and how many the database has applied. */
export async function migrationStatus(
  connection: DatabaseConnection,
): Promise<{ expected: number; applied: number }> {
  const journal = JSON.parse(await readFile(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as {
    entries: unknown[];
  };
  let applied = 0;
  try {
    const result = await connection.db.execute<{ count: number }>(
      sql`select count(*)::int as count from drizzle.__drizzle_migrations`,
    );
    applied = Number((result as unknown as { rows: Array<{ count: number }> }).rows[0]?.count ?? 0);
  } catch {
    applied = 0;
  }
  return { expected: journal.entries.length, applied };
}
