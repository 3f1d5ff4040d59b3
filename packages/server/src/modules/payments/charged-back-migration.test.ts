import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { migrate as migrateNodePostgres } from 'drizzle-orm/node-postgres/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseConnection } from '../../db/client.js';
import { migrationsFolder, runMigrations } from '../../db/migrate.js';
import { queryRows } from '../billing/sql.js';

const migration = '0010_payments_charged_back';

/** The committed migrations up to the one before `migration`, in a folder of their own. */
async function migrationsBefore(): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), 'webox-migrations-'));
  await cp(migrationsFolder, folder, { recursive: true });
  const journalPath = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
  const index = journal.entries.findIndex((entry) => entry.tag === migration);
  expect(index).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, index);
  await writeFile(journalPath, JSON.stringify(journal));
  return folder;
}

const backends: Array<{ name: string; open(): Promise<DatabaseConnection> }> = [
  { name: 'pglite', open: () => connectDatabase({ dataDir: 'memory://' }) },
];
const url = process.env.DATABASE_URL;
if (url) {
  backends.push({
    name: 'postgres',
    async open() {
      const name = `webox_t_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      const target = new URL(url);
      target.pathname = `/${name}`;
      const connection = await connectDatabase({ url: target.toString(), dataDir: 'unused', poolSize: 2 });
      return {
        ...connection,
        async close() {
          await connection.close();
          const dropper = new pg.Client({ connectionString: url });
          await dropper.connect();
          await dropper.query(`drop database if exists ${name} with (force)`);
          await dropper.end();
        },
      };
    },
  });
}

for (const backend of backends) {
  describe(`migration ${migration} on ${backend.name}`, () => {
    let connection: DatabaseConnection;
    let folder: string;

    beforeAll(async () => {
      folder = await migrationsBefore();
      connection = await backend.open();
      const db = connection.db as never;
      if (connection.kind === 'pglite') await migratePglite(db, { migrationsFolder: folder });
      else await migrateNodePostgres(db, { migrationsFolder: folder });
    });
    afterAll(async () => {
      await connection?.close();
      if (folder) await rm(folder, { recursive: true, force: true });
    });

    it('moves what chargeback events took out of refunded_amount into charged_back_amount', async () => {
      const db = connection.db;
      // Rows as the code before it left them: chargebacks added to refunded_amount, each with a `chargeback` event.
      const intent = async (refunded: number, status: string) => {
        const id = randomUUID();
        await db.execute(sql`insert into payment_intents
          (id, user_id, wallet_id, purpose, purpose_ref, credits, provider, currency, amount, status,
           refunded_amount, credits_reversed)
          values (${id}, ${randomUUID()}, ${randomUUID()}, 'credit_pack', 'pro', 1000000, 'stripe', 'EUR', 6000,
           ${status}, ${refunded}, 0)`);
        return id;
      };
      const chargeback = (intentId: string, chargedBack: number) =>
        db.execute(sql`insert into payment_events (intent_id, type, cause, details)
          values (${intentId}, 'chargeback', 'webhook', ${JSON.stringify({ chargedBack, refundedTotal: 0 })}::jsonb)`);
      const refundOnly = await intent(1500, 'partially_refunded');
      const refundThenDispute = await intent(6000, 'refunded');
      await chargeback(refundThenDispute, 4500);
      const twoDisputes = await intent(3500, 'partially_refunded');
      await chargeback(twoDisputes, 1000);
      await chargeback(twoDisputes, 2000);
      const untouched = await intent(0, 'paid');

      await runMigrations(connection);

      const rows = await queryRows<{ id: string; refunded_amount: unknown; charged_back_amount: unknown }>(
        db,
        sql`select id, refunded_amount, charged_back_amount from payment_intents`,
      );
      const amounts = Object.fromEntries(
        rows.map((row) => [row.id, [Number(row.refunded_amount), Number(row.charged_back_amount)]]),
      );
      expect(amounts).toEqual({
        [refundOnly]: [1500, 0],
        [refundThenDispute]: [1500, 4500],
        [twoDisputes]: [500, 3000],
        [untouched]: [0, 0],
      });
      // Refunds and chargebacks together still cannot pass what was paid.
      await expect(
        db.execute(sql`update payment_intents set charged_back_amount = 5000 where id = ${refundOnly}`),
      ).rejects.toThrow();
    });
  });
}
