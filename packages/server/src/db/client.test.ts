import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectDatabase } from './client.js';
import { migrationStatus } from './migrate.js';

const folders: string[] = [];
async function dataDir() {
  const folder = await mkdtemp(path.join(tmpdir(), 'webox-db-'));
  folders.push(folder);
  return folder;
}
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

describe('the embedded database (PGlite in a worker thread)', { timeout: 120_000 }, () => {
  it('keeps its data across close and reopen, and close releases the data-directory lock', async () => {
    const directory = await dataDir();
    const lock = path.join(directory, 'pglite.lock');
    const first = await connectDatabase({ dataDir: directory });
    expect(await exists(lock)).toBe(true);
    await first.db.execute(sql`create table notes (body text)`);
    await first.db.execute(sql`insert into notes values (${'kept'})`);
    await first.close();
    expect(await exists(lock)).toBe(false);
    await expect(first.ping()).rejects.toThrow(/closed/);

    const second = await connectDatabase({ dataDir: directory });
    try {
      const result = await second.db.execute(sql`select body from notes`);
      expect((result as unknown as { rows: unknown[] }).rows).toEqual([{ body: 'kept' }]);
    } finally {
      await second.close();
    }
  });

  it('fails to connect on a corrupt data directory, and releases the lock', async () => {
    const directory = await dataDir();
    await mkdir(path.join(directory, 'pglite'));
    await writeFile(path.join(directory, 'pglite', 'PG_VERSION'), 'not a version\n');
    await expect(connectDatabase({ dataDir: directory })).rejects.toThrow(/PGlite failed to initialize/);
    expect(await exists(path.join(directory, 'pglite.lock'))).toBe(false);
  });

  it('starts memory databases as separate copies of a dumped one (the migrated template tests start from)', async () => {
    const template = inject('pgliteTemplate');
    const [first, second] = await Promise.all([
      connectDatabase({ dataDir: 'memory://', startFrom: template }),
      connectDatabase({ dataDir: 'memory://', startFrom: template }),
    ]);
    try {
      const status = await migrationStatus(first);
      expect(status.applied).toBe(status.expected);
      await first.db.execute(sql`create table only_here (body text)`);
      const seen = await second.db.execute(sql`select to_regclass('only_here') as found`);
      expect((seen as unknown as { rows: unknown[] }).rows).toEqual([{ found: null }]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
    await expect(connectDatabase({ dataDir: await dataDir(), startFrom: template })).rejects.toThrow(
      /memory:\/\/ database only/,
    );
  });

  it('runs from the TypeScript sources through tsx, and an idle open connection lets the process exit', async () => {
    // The script never closes the connection: with a worker that held the event loop, it would never exit.
    const client = fileURLToPath(new URL('./client.ts', import.meta.url));
    const script = `
      import { connectDatabase } from ${JSON.stringify(client)};
      const connection = await connectDatabase({ dataDir: 'memory://' });
      const { rows } = await connection.db.execute('select 41 + 1 as answer');
      console.log(JSON.stringify(rows));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=@webox/source', '--import', 'tsx', '--input-type=module', '--eval', script],
      { timeout: 90_000 },
    );
    expect(stdout.trim()).toBe('[{"answer":42}]');
  });
});
