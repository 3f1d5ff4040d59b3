import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database, type DatabaseConnection } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { databaseBackends } from '../../testing/backends.js';
import {
  ensureWallet,
  expireHolds,
  getBalance,
  holdCredits,
  postEntry,
  releaseHold,
  settleHold,
  verifyLedger,
} from './ledger.js';
import { ledgerEntries } from './tables.js';

async function fundedWallet(db: Database, credits: number) {
  const wallet = await ensureWallet(db, { ownerType: 'user', ownerId: randomUUID() });
  if (credits > 0) {
    await postEntry(db, {
      walletId: wallet.id,
      kind: 'top_up',
      amount: credits,
      idempotencyKey: `top-up:${randomUUID()}`,
      references: { paymentId: 'pay_test' },
    });
  }
  return wallet;
}

async function caught(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}

async function usageTotal(db: Database, walletId: string): Promise<number> {
  const rows = await db.select().from(ledgerEntries).where(eq(ledgerEntries.walletId, walletId));
  return rows.filter((row) => row.kind === 'usage').reduce((sum, row) => sum - row.amount, 0);
}

for (const backend of databaseBackends()) {
  describe(`credit ledger on ${backend.name}`, () => {
    let connection: DatabaseConnection & { url?: string };
    let db: Database;

    beforeAll(async () => {
      connection = await backend.open();
      db = connection.db;
    });
    afterAll(() => connection.close());

    it('creates one wallet per owner, also under concurrent first calls', async () => {
      const ownerId = randomUUID();
      const created = await Promise.all(
        Array.from({ length: 8 }, () => ensureWallet(db, { ownerType: 'organization', ownerId })),
      );
      expect(new Set(created.map((wallet) => wallet.id)).size).toBe(1);
      expect(created[0]).toMatchObject({ balance: 0, held: 0, available: 0, ownerType: 'organization' });
    });

    it('posts double-entry movements once per idempotency key', async () => {
      const wallet = await fundedWallet(db, 0);
      const first = await postEntry(db, {
        walletId: wallet.id,
        kind: 'top_up',
        amount: 500,
        idempotencyKey: `pay:${wallet.id}`,
        references: { paymentId: 'pay_1' },
      });
      const again = await postEntry(db, {
        walletId: wallet.id,
        kind: 'top_up',
        amount: 500,
        idempotencyKey: `pay:${wallet.id}`,
      });
      expect(first).toMatchObject({ balance: 500, duplicate: false });
      expect(again).toEqual({ entryId: first.entryId, balance: 500, duplicate: true });
      expect((await getBalance(db, wallet.id)).balance).toBe(500);

      const reused = await caught(
        postEntry(db, { walletId: wallet.id, kind: 'grant', amount: 7, idempotencyKey: `pay:${wallet.id}` }),
      );
      expect(reused.code).toBe('conflict');

      const racing = await Promise.all(
        Array.from({ length: 10 }, () =>
          postEntry(db, {
            walletId: wallet.id,
            kind: 'grant',
            amount: 25,
            idempotencyKey: `grant:${wallet.id}`,
          }),
        ),
      );
      expect(racing.filter((posted) => !posted.duplicate)).toHaveLength(1);
      expect((await getBalance(db, wallet.id)).balance).toBe(525);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('requires a reason for adjustments and never debits below zero or below the holds', async () => {
      const wallet = await fundedWallet(db, 100);
      const noReason = await caught(
        postEntry(db, { walletId: wallet.id, kind: 'adjustment', amount: -10, idempotencyKey: randomUUID() }),
      );
      expect(noReason.code).toBe('validation_failed');
      const wrongSign = await caught(
        postEntry(db, { walletId: wallet.id, kind: 'top_up', amount: -10, idempotencyKey: randomUUID() }),
      );
      expect(wrongSign.code).toBe('validation_failed');

      await holdCredits(db, { walletId: wallet.id, amount: 60, requestId: 'r1' });
      const tooMuch = await caught(
        postEntry(db, {
          walletId: wallet.id,
          kind: 'adjustment',
          amount: -41,
          reason: 'chargeback',
          idempotencyKey: randomUUID(),
        }),
      );
      expect(tooMuch.code).toBe('insufficient_credits');
      expect(tooMuch.options.details).toEqual({ balance: 100, available: 40, needed: 41 });
      const fits = await postEntry(db, {
        walletId: wallet.id,
        kind: 'adjustment',
        amount: -40,
        reason: 'chargeback',
        idempotencyKey: randomUUID(),
      });
      expect(fits.balance).toBe(60);
      expect(await getBalance(db, wallet.id)).toEqual({ balance: 60, held: 60, available: 0 });
    });

    it('holds the worst case, settles the real cost and releases the rest', async () => {
      const wallet = await fundedWallet(db, 1_000);
      const hold = await holdCredits(db, { walletId: wallet.id, amount: 300, requestId: 'req-a' });
      expect(hold.available).toBe(700);
      expect(await getBalance(db, wallet.id)).toEqual({ balance: 1_000, held: 300, available: 700 });

      const settled = await settleHold(db, {
        holdId: hold.holdId,
        amount: 120,
        description: 'chat completion',
        references: { model: 'gpt-test', keyId: 'key-1', priceVersion: 3 },
        details: { inputTokens: 1000, outputTokens: 20 },
        idempotencyKey: 'settle:req-a',
      });
      expect(settled).toEqual({
        charged: 120,
        balance: 880,
        available: 880,
        uncollected: 0,
        replayed: false,
      });
      const [entry] = await db
        .select()
        .from(ledgerEntries)
        .where(eq(ledgerEntries.idempotencyKey, 'settle:req-a'));
      expect(entry).toMatchObject({
        kind: 'usage',
        amount: -120,
        balanceAfter: 880,
        requestId: 'req-a',
        model: 'gpt-test',
        keyId: 'key-1',
        priceVersion: 3,
        holdId: hold.holdId,
      });
      expect(entry!.details).toMatchObject({
        inputTokens: 1000,
        outputTokens: 20,
        requested: 120,
        uncollected: 0,
      });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('answers 402 with the balance and the amount needed, and holds nothing', async () => {
      const wallet = await fundedWallet(db, 50);
      await holdCredits(db, { walletId: wallet.id, amount: 30, requestId: 'r' });
      const refused = await caught(holdCredits(db, { walletId: wallet.id, amount: 21, requestId: 'r2' }));
      expect(refused.status).toBe(402);
      expect(refused.code).toBe('insufficient_credits');
      expect(refused.options.details).toEqual({ balance: 50, available: 20, needed: 21 });
      expect(await getBalance(db, wallet.id)).toEqual({ balance: 50, held: 30, available: 20 });
    });

    it('settles exactly once: retries with the same key replay the result, other keys conflict', async () => {
      const wallet = await fundedWallet(db, 100);
      const hold = await holdCredits(db, { walletId: wallet.id, amount: 40, requestId: 'stream-1' });
      const settles = await Promise.all(
        Array.from({ length: 6 }, () =>
          settleHold(db, { holdId: hold.holdId, amount: 33, idempotencyKey: 'settle:stream-1' }),
        ),
      );
      expect(settles.filter((result) => !result.replayed)).toHaveLength(1);
      for (const result of settles)
        expect(result).toMatchObject({ charged: 33, balance: 67, uncollected: 0 });
      expect(await usageTotal(db, wallet.id)).toBe(33);

      const other = await caught(
        settleHold(db, { holdId: hold.holdId, amount: 33, idempotencyKey: 'other' }),
      );
      expect(other.code).toBe('conflict');
      const missing = await caught(settleHold(db, { holdId: randomUUID(), amount: 1, idempotencyKey: 'x' }));
      expect(missing.code).toBe('not_found');

      // A free request (0 credits) settles without an entry, and its retry still replays.
      const free = await holdCredits(db, { walletId: wallet.id, amount: 0, requestId: 'free' });
      const freeSettle = { holdId: free.holdId, amount: 0, idempotencyKey: 'settle:free' };
      expect(await settleHold(db, freeSettle)).toMatchObject({ charged: 0, balance: 67 });
      expect(await settleHold(db, freeSettle)).toMatchObject({ charged: 0, balance: 67, replayed: true });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('charges above the hold only from what is available, never into overdraft', async () => {
      const wallet = await fundedWallet(db, 100);
      const hold = await holdCredits(db, { walletId: wallet.id, amount: 30, requestId: 'over-1' });
      const other = await holdCredits(db, { walletId: wallet.id, amount: 50, requestId: 'over-2' });
      // Available outside the two holds: 20. The first request cost 80: 30 held + 20 available.
      const settled = await settleHold(db, {
        holdId: hold.holdId,
        amount: 80,
        idempotencyKey: 'settle:over-1',
      });
      expect(settled).toMatchObject({ charged: 50, balance: 50, available: 0, uncollected: 30 });
      const second = await settleHold(db, {
        holdId: other.holdId,
        amount: 50,
        idempotencyKey: 'settle:over-2',
      });
      expect(second).toMatchObject({ charged: 50, balance: 0, available: 0, uncollected: 0 });
      expect(
        await settleHold(db, { holdId: hold.holdId, amount: 80, idempotencyKey: 'settle:over-1' }),
      ).toMatchObject({
        charged: 50,
        uncollected: 30,
        replayed: true,
      });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('releases a hold once, and refuses to settle a released hold', async () => {
      const wallet = await fundedWallet(db, 100);
      const hold = await holdCredits(db, { walletId: wallet.id, amount: 70, requestId: 'fail' });
      await Promise.all([releaseHold(db, hold), releaseHold(db, hold), releaseHold(db, hold)]);
      expect(await getBalance(db, wallet.id)).toEqual({ balance: 100, held: 0, available: 100 });
      const late = await caught(settleHold(db, { holdId: hold.holdId, amount: 5, idempotencyKey: 'late' }));
      expect(late.code).toBe('conflict');
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('expires holds after their TTL so a crashed process cannot lock credits', async () => {
      const wallet = await fundedWallet(db, 100);
      // Holds of the other tests live 15 minutes from now, so only this test's short hold is due.
      const start = new Date();
      const short = await holdCredits(db, {
        walletId: wallet.id,
        amount: 60,
        requestId: 'crashed',
        ttlSeconds: 30,
        now: start,
      });
      const long = await holdCredits(db, {
        walletId: wallet.id,
        amount: 40,
        requestId: 'alive',
        ttlSeconds: 600,
        now: start,
      });
      expect((await getBalance(db, wallet.id)).available).toBe(0);

      expect(await expireHolds(db, new Date(start.getTime() + 29_000))).toBe(0);
      expect(await expireHolds(db, new Date(start.getTime() + 30_000))).toBe(1);
      expect(await expireHolds(db, new Date(start.getTime() + 31_000))).toBe(0);
      expect(await getBalance(db, wallet.id)).toEqual({ balance: 100, held: 40, available: 60 });

      // The crashed process comes back and settles late: usage is charged from what is available, once.
      const late = await settleHold(db, {
        holdId: short.holdId,
        amount: 25,
        idempotencyKey: 'settle:crashed',
      });
      expect(late).toMatchObject({ charged: 25, balance: 75, available: 35 });
      await settleHold(db, { holdId: long.holdId, amount: 40, idempotencyKey: 'settle:alive' });
      expect(await getBalance(db, wallet.id)).toEqual({ balance: 35, held: 0, available: 35 });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('counts a crashed hold only until its TTL, even before the expiry job has run', async () => {
      const wallet = await fundedWallet(db, 100);
      const crashed = new Date(Date.now() - 120_000);
      await holdCredits(db, {
        walletId: wallet.id,
        amount: 100,
        requestId: 'lost',
        ttlSeconds: 60,
        now: crashed,
      });
      // No job ran; the refusal path sweeps the wallet's overdue holds and serves the request.
      const hold = await holdCredits(db, { walletId: wallet.id, amount: 80, requestId: 'next' });
      expect(hold.available).toBe(20);
      expect(await getBalance(db, wallet.id)).toEqual({ balance: 100, held: 80, available: 20 });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('keeps the ledger append-only', async () => {
      const wallet = await fundedWallet(db, 10);
      await expect(
        db.execute(sql`update ledger_entries set amount = 1000000 where wallet_id = ${wallet.id}`),
      ).rejects.toThrow();
      await expect(
        db.execute(sql`delete from ledger_entries where wallet_id = ${wallet.id}`),
      ).rejects.toThrow();
      expect((await getBalance(db, wallet.id)).balance).toBe(10);
    });

    it('reports a wallet whose cached balance disagrees with its entries', async () => {
      const wallet = await fundedWallet(db, 10);
      await db.execute(sql`update wallets set balance = 11 where id = ${wallet.id}`);
      const mismatches = await verifyLedger(db);
      expect(mismatches).toEqual([
        expect.objectContaining({ walletId: wallet.id, balance: 11, sumOfEntries: 10 }),
      ]);
      await db.execute(sql`update wallets set balance = 10 where id = ${wallet.id}`);
      expect(await verifyLedger(db)).toEqual([]);
    });

    describe('race: 1,000 concurrent requests against a wallet that affords exactly 100', () => {
      let raceDb: Database;
      let raceConnection: DatabaseConnection | undefined;

      beforeAll(async () => {
        // PostgreSQL gets a pool of many connections so the holds really run in parallel on the server.
        raceConnection = connection.url
          ? await connectDatabase({ url: connection.url, dataDir: 'unused', poolSize: 40 })
          : undefined;
        raceDb = raceConnection?.db ?? db;
      });
      afterAll(() => raceConnection?.close());

      it('never spends more than the wallet holds and the ledger sums to the balance', async () => {
        const price = 10;
        const wallet = await fundedWallet(raceDb, 100 * price);
        let lowest = Number.POSITIVE_INFINITY;
        const outcomes = await Promise.all(
          Array.from({ length: 1_000 }, async (_, index) => {
            try {
              const hold = await holdCredits(raceDb, {
                walletId: wallet.id,
                amount: price,
                requestId: `race-${index}`,
              });
              const settled = await settleHold(raceDb, {
                holdId: hold.holdId,
                amount: price,
                references: { requestId: `race-${index}` },
                idempotencyKey: `settle:race-${wallet.id}-${index}`,
              });
              lowest = Math.min(lowest, settled.balance, settled.available);
              return 'served';
            } catch (error) {
              if (error instanceof AppError && error.code === 'insufficient_credits') return 'refused';
              throw error;
            }
          }),
        );
        expect(outcomes.filter((outcome) => outcome === 'served')).toHaveLength(100);
        expect(outcomes.filter((outcome) => outcome === 'refused')).toHaveLength(900);
        expect(lowest).toBeGreaterThanOrEqual(0);
        expect(await getBalance(raceDb, wallet.id)).toEqual({ balance: 0, held: 0, available: 0 });
        expect(await usageTotal(raceDb, wallet.id)).toBe(100 * price);
        expect(await verifyLedger(raceDb)).toEqual([]);
      });

      it('concurrent settles above their holds take what is left, never more', async () => {
        const wallet = await fundedWallet(raceDb, 1_000);
        const holds = await Promise.all(
          Array.from({ length: 100 }, (_, index) =>
            holdCredits(raceDb, { walletId: wallet.id, amount: 10, requestId: `over-${index}` }),
          ),
        );
        const settled = await Promise.all(
          holds.map((hold) =>
            settleHold(raceDb, { holdId: hold.holdId, amount: 25, idempotencyKey: `usage:${hold.holdId}` }),
          ),
        );
        const charged = settled.reduce((sum, result) => sum + result.charged, 0);
        expect(charged).toBe(1_000);
        for (const result of settled) {
          expect(result.charged).toBeGreaterThanOrEqual(10);
          expect(result.charged + result.uncollected).toBe(25);
        }
        expect(await getBalance(raceDb, wallet.id)).toEqual({ balance: 0, held: 0, available: 0 });
        expect(await verifyLedger(raceDb)).toEqual([]);
      });

      it('with worst-case holds above the real cost, settles exactly what was used and retries charge nothing', async () => {
        const wallet = await fundedWallet(raceDb, 1_000);
        const results = await Promise.all(
          Array.from({ length: 1_000 }, async (_, index) => {
            try {
              const hold = await holdCredits(raceDb, {
                walletId: wallet.id,
                amount: 15,
                requestId: `mixed-${index}`,
              });
              const settle = {
                holdId: hold.holdId,
                amount: 10,
                idempotencyKey: `settle:mixed-${wallet.id}-${index}`,
              };
              // Every settle is sent twice at once, as a retried stream finalisation would.
              const [first, second] = await Promise.all([
                settleHold(raceDb, settle),
                settleHold(raceDb, settle),
              ]);
              return first.charged === 10 && second.charged === 10 ? 10 : -1;
            } catch (error) {
              if (error instanceof AppError && error.code === 'insufficient_credits') return 0;
              throw error;
            }
          }),
        );
        expect(results).not.toContain(-1);
        const spent = results.reduce<number>((sum, value) => sum + value, 0);
        const balance = await getBalance(raceDb, wallet.id);
        expect(spent).toBeGreaterThanOrEqual(660);
        expect(spent).toBeLessThanOrEqual(1_000);
        expect(balance).toEqual({ balance: 1_000 - spent, held: 0, available: 1_000 - spent });
        expect(await usageTotal(raceDb, wallet.id)).toBe(spent);
        expect(await verifyLedger(raceDb)).toEqual([]);
      });
    });
  });
}
