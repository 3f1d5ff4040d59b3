import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseConnection } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Stores } from '../../stores/index.js';
import { backendPairs } from '../../testing/backend-pairs.js';
import { LedgerBatcher } from './batcher.js';
import { ensureWallet, getBalance, postEntry, verifyLedger } from './ledger.js';
import { createLedgerMetering } from './metering.js';
import { PriceBookCache, setPrice } from './prices.js';
import { ledgerEntries } from './tables.js';

for (const pair of backendPairs()) {
  describe(`organisation wallets with member limits on ${pair.name}`, () => {
    let database: DatabaseConnection;
    let stores: Stores;
    beforeAll(async () => {
      database = await pair.database.open();
      stores = await pair.stores.open();
    });
    afterAll(async () => {
      await stores.close();
      await database.close();
    });

    it('lets members spend from the organisation wallet, each within a limit, recorded per member', async () => {
      const db = database.db;
      const model = `m-${randomUUID().slice(0, 8)}`;
      await setPrice(db, {
        itemKey: `model:${model}`,
        kind: 'tokens',
        rates: { inputPerMillion: 1_000_000, outputPerMillion: 1_000_000 },
        source: 'admin',
      });
      const organisationId = randomUUID();
      const organisation = await ensureWallet(db, { ownerType: 'organization', ownerId: organisationId });
      await postEntry(db, {
        walletId: organisation.id,
        kind: 'top_up',
        amount: 1_000,
        idempotencyKey: randomUUID(),
      });
      const metering = createLedgerMetering({
        db,
        counters: stores.counters,
        prices: new PriceBookCache(db),
        timeZone: 'Africa/Algiers',
        holdTtlSeconds: 60,
        batcher: new LedgerBatcher(db),
        payerFor: async (caller) => ({
          ownerType: 'organization',
          ownerId: organisationId,
          memberUserId: caller.userId,
          memberLimits: { monthlyCredits: caller.userId === 'alice' ? 100 : 500 },
        }),
      });
      const call = (userId: string, tokens: number) =>
        metering
          .begin({
            caller: { userId, keyId: null },
            requestId: randomUUID(),
            candidates: [{ model }],
            maxPromptTokens: 0,
            maxOutputTokens: tokens,
          })
          .then((charge) =>
            charge.settle({ model, usage: { inputTokens: 0, outputTokens: tokens, cachedInputTokens: 0 } }),
          );

      expect(await call('alice', 60)).toMatchObject({ charged: 60, balance: 940 });
      const refused = await call('alice', 60).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).code).toBe('budget_exceeded');
      expect((refused as AppError).options.details).toMatchObject({ scope: 'member', limit: 100, used: 60 });
      expect(await call('bob', 300)).toMatchObject({ charged: 300, balance: 640 });

      const entries = await db
        .select()
        .from(ledgerEntries)
        .where(eq(ledgerEntries.walletId, organisation.id));
      const usage = entries.filter((entry) => entry.kind === 'usage');
      expect(usage.map((entry) => [entry.memberUserId, entry.amount]).sort()).toEqual([
        ['alice', -60],
        ['bob', -300],
      ]);
      expect(await getBalance(db, organisation.id)).toEqual({ balance: 640, held: 0, available: 640 });
      expect(await verifyLedger(db)).toEqual([]);
    });
  });
}
