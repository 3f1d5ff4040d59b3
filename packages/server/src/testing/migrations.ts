import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrate as migrateNodePostgres } from 'drizzle-orm/node-postgres/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { afterAll, beforeAll, describe } from 'vitest';
import { connectDatabase, type DatabaseConnection } from '../db/client.js';
import { migrationsFolder } from '../db/migrate.js';
import { openFreshPostgres } from './backends.js';

/** Where a migration test runs: a fresh PGlite always, a fresh PostgreSQL database when DATABASE_URL is set. */
export interface MigrationBackend {
  name: 'pglite' | 'postgres';
  open(): Promise<DatabaseConnection>;
}

export function migrationBackends(): MigrationBackend[] {
  const backends: MigrationBackend[] = [
    { name: 'pglite', open: () => connectDatabase({ dataDir: 'memory://' }) },
  ];
  const url = process.env.DATABASE_URL;
  if (url) backends.push({ name: 'postgres', open: () => openFreshPostgres(url, { migrate: false }) });
  return backends;
}

/**
 * A fresh database migrated with the committed migrations before `migration` only, as a deployment that has not run
 * it yet: the test writes rows as the code before it left them, then runs `runMigrations` and checks what it did.
 */
export async function openDatabaseBefore(
  backend: MigrationBackend,
  migration: string,
): Promise<DatabaseConnection> {
  const folder = await mkdtemp(path.join(tmpdir(), 'webox-migrations-'));
  try {
    await cp(migrationsFolder, folder, { recursive: true });
    const journalPath = path.join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
    const index = journal.entries.findIndex((entry) => entry.tag === migration);
    if (index <= 0) throw new Error(`no migration ${migration} after the first one`);
    journal.entries = journal.entries.slice(0, index);
    await writeFile(journalPath, JSON.stringify(journal));
    const connection = await backend.open();
    const db = connection.db as never;
    if (connection.kind === 'pglite') await migratePglite(db, { migrationsFolder: folder });
    else await migrateNodePostgres(db, { migrationsFolder: folder });
    return connection;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * A suite for one migration on every migration backend: `tests` gets the database as it was before the migration (the
 * test writes rows as the code before it left them, runs `runMigrations` and checks what it did).
 */
export function describeMigration(
  migration: string,
  tests: (connection: () => DatabaseConnection) => void,
): void {
  for (const backend of migrationBackends()) {
    describe(`migration ${migration} on ${backend.name}`, () => {
      let connection: DatabaseConnection | undefined;
      beforeAll(async () => {
        connection = await openDatabaseBefore(backend, migration);
      });
      afterAll(() => connection?.close());
      tests(() => {
        if (!connection) throw new Error('the database is not open');
        return connection;
      });
    });
  }
}
