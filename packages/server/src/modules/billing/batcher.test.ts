import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database, type DatabaseConnection } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { databaseBackends } from '../../testing/backends.js';
import { LedgerBatcher } from './batcher.js';
import { ensureWallet, expireHolds, getBalance, holdCredits, postEntry, verifyLedger } from './ledger.js';
import { ledgerEntries } from './tables.js';

async function fundedWallet(db: Database, credits: number) {
  const wallet = await ensureWallet(db, { ownerType: 'user', ownerId: randomUUID() });
  if (credits > 0) {
    await postEntry(db, {
      walletId: wallet.id,
      kind: 'top_up',
      amount: credits,
      idempotencyKey: randomUUID(),
    });
  }
  return wallet.id;
}

/** Each entry's balance_after is the previous one plus its amount: the statement chain is intact. */
async function expectIntactChain(db: Database, walletId: string) {
  const entries = await db
    .select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.walletId, walletId))
    .orderBy(asc(ledgerEntries.id));
  let balance = 0;
  for (const entry of entries) {
    balance += entry.amount;
    expect(entry.balanceAfter).toBe(balance);
  }
  expect((await getBalance(db, walletId)).balance).toBe(balance);
}

const refusedOrThrow = (error: unknown) => {
  if (error instanceof AppError && error.code === 'insufficient_credits') return 'refused' as const;
  throw error;
};

for (const backend of databaseBackends()) {
  describe(`group-committed holds and settles on ${backend.name}`, () => {
    let connection: DatabaseConnection & { url?: string };
    let pool: DatabaseConnection | undefined;
    let db: Database;
    let batcher: LedgerBatcher;

    beforeAll(async () => {
      connection = await backend.open();
      pool = connection.url
        ? await connectDatabase({ url: connection.url, dataDir: 'unused', poolSize: 24 })
        : undefined;
      db = pool?.db ?? connection.db;
      batcher = new LedgerBatcher(db, { maxInFlight: pool ? 4 : 1 });
    });
    afterAll(async () => {
      await pool?.close();
      await connection.close();
    });

    it('race: 1,000 concurrent requests, a wallet that affords exactly 100, never overspent', async () => {
      const walletId = await fundedWallet(db, 1_000);
      const outcomes = await Promise.all(
        Array.from({ length: 1_000 }, async (_, index) => {
          try {
            const hold = await batcher.holdCredits({ walletId, amount: 10, requestId: `r${index}` });
            const settled = await batcher.settleHold({
              holdId: hold.holdId,
              amount: 10,
              idempotencyKey: `usage:${hold.holdId}`,
            });
            expect(settled.balance).toBeGreaterThanOrEqual(0);
            expect(settled.available).toBeGreaterThanOrEqual(0);
            return 'served' as const;
          } catch (error) {
            return refusedOrThrow(error);
          }
        }),
      );
      expect(outcomes.filter((outcome) => outcome === 'served')).toHaveLength(100);
      expect(await getBalance(db, walletId)).toEqual({ balance: 0, held: 0, available: 0 });
      await expectIntactChain(db, walletId);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('serves many wallets at once and keeps every statement chain intact', async () => {
      const wallets = await Promise.all(Array.from({ length: 20 }, () => fundedWallet(db, 10_000)));
      await Promise.all(
        Array.from({ length: 600 }, async (_, index) => {
          const walletId = wallets[index % wallets.length]!;
          const hold = await batcher.holdCredits({ walletId, amount: 300, requestId: `m${index}` });
          await batcher.settleHold({
            holdId: hold.holdId,
            amount: 1 + (index % 250),
            idempotencyKey: `usage:${hold.holdId}`,
          });
        }),
      );
      for (const walletId of wallets) await expectIntactChain(db, walletId);
      expect(await verifyLedger(db)).toEqual([]);
      // The batches really went through the one-statement path.
      expect(batcher.stats.batchedHolds).toBeGreaterThan(300);
      expect(batcher.stats.batchedSettles).toBeGreaterThan(300);
      expect(batcher.stats.failedBatches).toBe(0);
    });

    it('decides mixed amounts as the single calls would', async () => {
      const walletId = await fundedWallet(db, 25);
      const results = await Promise.all(
        [10, 20, 10].map((amount, index) =>
          batcher.holdCredits({ walletId, amount, requestId: `x${index}` }).then(
            () => 'held',
            (error: unknown) => refusedOrThrow(error),
          ),
        ),
      );
      expect(results.filter((result) => result === 'held')).toHaveLength(results[1] === 'held' ? 1 : 2);
      expect((await getBalance(db, walletId)).available).toBeGreaterThanOrEqual(0);
    });

    it('charges a settle once even when it arrives twice in one batch, and handles overage and expiry', async () => {
      const walletId = await fundedWallet(db, 100);
      const start = new Date();
      const first = await holdCredits(db, { walletId, amount: 20, requestId: 'a', now: start });
      const second = await holdCredits(db, { walletId, amount: 20, requestId: 'b', now: start });
      const expiring = await holdCredits(db, {
        walletId,
        amount: 20,
        requestId: 'c',
        ttlSeconds: 1,
        now: start,
      });
      expect(await expireHolds(db, new Date(start.getTime() + 1_000))).toBeGreaterThanOrEqual(1);
      const [a1, a2, over, late] = await Promise.all([
        batcher.settleHold({ holdId: first.holdId, amount: 15, idempotencyKey: 'k-a' }),
        batcher.settleHold({ holdId: first.holdId, amount: 15, idempotencyKey: 'k-a' }),
        batcher.settleHold({ holdId: second.holdId, amount: 30, idempotencyKey: 'k-b' }),
        batcher.settleHold({ holdId: expiring.holdId, amount: 5, idempotencyKey: 'k-c' }),
      ]);
      expect([a1.charged, a2.charged]).toEqual([15, 15]);
      expect([a1.replayed, a2.replayed].filter(Boolean)).toHaveLength(1);
      expect(over).toMatchObject({ charged: 30, uncollected: 0 });
      expect(late).toMatchObject({ charged: 5 });
      expect(await getBalance(db, walletId)).toEqual({ balance: 50, held: 0, available: 50 });
      await expectIntactChain(db, walletId);
      expect(await verifyLedger(db)).toEqual([]);
    });
  });
}
