/**
 * `npm run billing:check`: recomputes every wallet from the ledger and exits 1 when any disagrees.
 * Reads DATABASE_URL (or the embedded database in DATA_DIR, which must not be in use by a running server).
 */

import { sql } from 'drizzle-orm';
import { ConfigError, loadEnv } from '../../config/env.js';
import { connectDatabase } from '../../db/client.js';
import { sqlState } from '../../db/sql-state.js';
import { verifyLedger } from './ledger.js';
import { queryRows, toCredits } from './sql.js';

async function main(): Promise<number> {
  const env = loadEnv(process.env);
  const database = await connectDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR, poolSize: 2 });
  try {
    const [totals] = await queryRows<{
      wallets: unknown;
      balance: unknown;
      held: unknown;
      entries: unknown;
      holds: unknown;
      overdue: unknown;
    }>(
      database.db,
      sql`select
        (select count(*) from wallets where owner_type <> 'system') as wallets,
        (select coalesce(sum(balance), 0) from wallets where owner_type <> 'system') as balance,
        (select coalesce(sum(held), 0) from wallets where owner_type <> 'system') as held,
        (select count(*) from ledger_entries) as entries,
        (select count(*) from credit_holds where status = 'active') as holds,
        (select count(*) from credit_holds where status = 'active' and expires_at < now()) as overdue`,
    );
    const mismatches = await verifyLedger(database.db);
    const summary = {
      wallets: toCredits(totals?.wallets),
      entries: toCredits(totals?.entries),
      activeHolds: toCredits(totals?.holds),
      // Past their TTL but not yet expired: the expiry job (every 30 s in each server) releases them.
      overdueHolds: toCredits(totals?.overdue),
      totalBalance: toCredits(totals?.balance),
      totalHeld: toCredits(totals?.held),
      mismatches: mismatches.length,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    if (mismatches.length > 0) {
      console.table(mismatches);
      process.stderr.write(
        `billing:check FAILED: ${mismatches.length} wallet(s) disagree with their ledger\n`,
      );
      return 1;
    }
    process.stdout.write('billing:check ok: every wallet equals the sum of its ledger entries\n');
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (sqlState(error) === '42P01') {
      process.stderr.write(
        'billing:check: this database has no billing tables yet; start the server once to migrate it\n',
      );
      process.exit(2);
    }
    process.stderr.write(
      `${error instanceof ConfigError ? error.message : `billing:check failed: ${error instanceof Error ? error.message : String(error)}`}\n`,
    );
    process.exit(2);
  },
);
