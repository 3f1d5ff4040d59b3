import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, DatabaseConnection } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Stores } from '../../stores/index.js';
import { backendPairs } from '../../testing/backend-pairs.js';
import { LedgerBatcher } from './batcher.js';
import { CreditLeases } from './leases.js';
import { ensureWallet, expireHolds, getBalance, postEntry, verifyLedger } from './ledger.js';
import { createLedgerMetering } from './metering.js';
import { setWalletPlan } from './plans.js';
import { PriceBookCache, setPrice } from './prices.js';
import { summariseUsage } from './statements.js';
import { creditHolds, ledgerEntries } from './tables.js';

/** 1 credit per output token: a request asking for N tokens holds N and, when it uses them all, costs N. */
const RATES = { inputPerMillion: 1_000_000, outputPerMillion: 1_000_000 };

for (const pair of backendPairs()) {
  describe(`credit leases on ${pair.name}`, () => {
    let database: DatabaseConnection;
    let stores: Stores;
    let model: string;
    beforeAll(async () => {
      database = await pair.database.open();
      stores = await pair.stores.open();
      model = `lease-${randomUUID().slice(0, 8)}`;
      await setPrice(database.db, {
        itemKey: `model:${model}`,
        kind: 'tokens',
        rates: RATES,
        source: 'admin',
      });
    });
    afterAll(async () => {
      await stores.close();
      await database.close();
    });

    async function fundedWallet(credits: number) {
      const wallet = await ensureWallet(database.db, { ownerType: 'user', ownerId: randomUUID() });
      await postEntry(database.db, {
        walletId: wallet.id,
        kind: 'top_up',
        amount: credits,
        idempotencyKey: randomUUID(),
      });
      // Pro has overage on and list prices: no monthly budget stands between these tests and the wallet.
      await setWalletPlan(database.db, { walletId: wallet.id, plan: 'pro' });
      return wallet;
    }

    function meteringFor(ownerId: string, leases: CreditLeases) {
      const db = database.db;
      const metering = createLedgerMetering({
        db,
        counters: stores.counters,
        prices: new PriceBookCache(db),
        timeZone: 'Africa/Algiers',
        holdTtlSeconds: 60,
        batcher: new LedgerBatcher(db),
        leases,
        payerFor: async () => ({ ownerType: 'user', ownerId }),
      });
      /** One call that asks for `asked` output tokens and uses `used` of them; its status as an HTTP code. */
      return async (asked: number, used = asked): Promise<number> => {
        try {
          const charge = await metering.begin({
            caller: { userId: ownerId, keyId: null },
            requestId: randomUUID(),
            candidates: [{ model }],
            maxPromptTokens: 0,
            maxOutputTokens: asked,
          });
          await new Promise((resolve) => setImmediate(resolve));
          await charge.settle({ model, usage: { inputTokens: 0, outputTokens: used, cachedInputTokens: 0 } });
          return 200;
        } catch (error) {
          if (error instanceof AppError && error.code === 'insufficient_credits') return 402;
          throw error;
        }
      };
    }

    const usageEntries = (walletId: string) =>
      database.db
        .select()
        .from(ledgerEntries)
        .where(and(eq(ledgerEntries.walletId, walletId), eq(ledgerEntries.kind, 'usage')));

    /** The calls the entries stand for: a leased batch writes one entry per wallet, key, model and price. */
    const callsIn = (entries: Array<{ details: Record<string, number | string> | null }>) =>
      entries.reduce((sum, entry) => sum + Number(entry.details?.requests ?? 1), 0);

    it('serves a large wallet from one lease and writes every charge exactly once, a few entries in all', async () => {
      const wallet = await fundedWallet(1_000_000);
      const leases = new CreditLeases({ db: database.db, ttlSeconds: 60 });
      const call = meteringFor(wallet.ownerId, leases);
      const statuses = await Promise.all(Array.from({ length: 500 }, (_, i) => call(100, i % 100)));
      expect(statuses.every((status) => status === 200)).toBe(true);
      await leases.flush();
      expect(leases.stats.leasesTaken).toBe(1);
      expect(leases.stats.flushes).toBeLessThan(100);

      const spent = Array.from({ length: 500 }, (_, i) => i % 100).reduce((sum, n) => sum + n, 0);
      const entries = await usageEntries(wallet.id);
      // One entry per batch (one wallet, key, model and price here) for the leased calls, one each for calls that
      // found the lease spent and were held on their own: together the 495 calls that used anything.
      const leased = entries.filter((entry) => entry.details?.requests !== undefined);
      expect(leased.length).toBeGreaterThan(0);
      expect(leased.length).toBeLessThanOrEqual(leases.stats.flushes);
      expect(callsIn(entries)).toBe(500 - 5);
      expect(entries.reduce((sum, entry) => sum + Number(entry.details?.outputTokens), 0)).toBe(spent);
      expect(new Set(entries.map((entry) => entry.idempotencyKey)).size).toBe(entries.length);
      expect(entries.reduce((sum, entry) => sum + entry.amount, 0)).toBe(-spent);
      // The usage report still counts calls, not entries.
      const report = await summariseUsage(database.db, {
        walletId: wallet.id,
        from: new Date(Date.now() - 60_000),
        to: new Date(Date.now() + 60_000),
        groupBy: 'model',
        timeZone: 'Africa/Algiers',
      });
      expect(report).toEqual([{ group: model, requests: 495, credits: spent }]);
      // Each entry's balance_after is the running balance, in order.
      const ordered = [...entries].sort((a, b) => a.id - b.id);
      let running = 1_000_000;
      for (const entry of ordered) {
        running += entry.amount;
        expect(entry.balanceAfter).toBe(running);
      }
      const during = await getBalance(database.db, wallet.id);
      expect(during.balance).toBe(1_000_000 - spent);
      expect(during.held).toBeGreaterThan(0); // the lease is still reserved
      expect(await verifyLedger(database.db)).toEqual([]);

      await leases.close();
      expect(await getBalance(database.db, wallet.id)).toMatchObject({ balance: 1_000_000 - spent, held: 0 });
      expect(await verifyLedger(database.db)).toEqual([]);
    });

    it('never spends more than the wallet has when two processes race it down to zero', async () => {
      // 40,000 credits afford exactly 400 calls of 100: the first leases, then per-request holds at the edge.
      const wallet = await fundedWallet(40_000);
      const first = new CreditLeases({ db: database.db, ttlSeconds: 60 });
      const second = new CreditLeases({ db: database.db, ttlSeconds: 60 });
      const calls = [meteringFor(wallet.ownerId, first), meteringFor(wallet.ownerId, second)];
      const statuses = await Promise.all(Array.from({ length: 1_200 }, (_, i) => calls[i % 2]!(100)));
      await Promise.all([first.close(), second.close()]);

      const served = statuses.filter((status) => status === 200).length;
      expect(statuses.filter((status) => status !== 200 && status !== 402)).toEqual([]);
      expect(served).toBeLessThanOrEqual(400);
      // Leases give back what no request uses before a per-request hold is refused, so few calls lose out.
      expect(served).toBeGreaterThanOrEqual(380);
      expect(first.stats.leasesTaken + second.stats.leasesTaken).toBeGreaterThan(0);
      const balance = await getBalance(database.db, wallet.id);
      expect(balance).toEqual({ balance: 40_000 - served * 100, held: 0, available: 40_000 - served * 100 });
      expect(callsIn(await usageEntries(wallet.id))).toBe(served);
      expect(await verifyLedger(database.db)).toEqual([]);
    });

    it('takes no lease on a wallet too small for one: every request is held on its own', async () => {
      const wallet = await fundedWallet(1_000);
      const leases = new CreditLeases({ db: database.db, ttlSeconds: 60 });
      const call = meteringFor(wallet.ownerId, leases);
      const statuses = await Promise.all(Array.from({ length: 30 }, () => call(100)));
      expect(statuses.filter((status) => status === 200)).toHaveLength(10);
      expect(leases.stats.leasesTaken).toBe(0);
      expect(await getBalance(database.db, wallet.id)).toEqual({ balance: 0, held: 0, available: 0 });
      await leases.close();
    });

    it('after a crash: the lease lapses with its TTL, unwritten usage is lost, nothing is charged twice', async () => {
      const wallet = await fundedWallet(100_000);
      // A process that dies before writing anything (its flush interval is longer than its life).
      const crashed = new CreditLeases({ db: database.db, ttlSeconds: 1, flushEveryMs: 3_600_000 });
      const call = meteringFor(wallet.ownerId, crashed);
      expect(await Promise.all([call(100), call(100), call(100)])).toEqual([200, 200, 200]);
      const leased = await getBalance(database.db, wallet.id);
      expect(leased.held).toBeGreaterThan(0);

      // After the TTL the periodic job returns the lease: the books balance and nothing stays held.
      expect(await expireHolds(database.db, new Date(Date.now() + 5_000), { walletId: wallet.id })).toBe(1);
      expect(await getBalance(database.db, wallet.id)).toEqual({
        balance: 100_000,
        held: 0,
        available: 100_000,
      });
      expect(await verifyLedger(database.db)).toEqual([]);

      // Had the process only stalled, its late batch is charged from what is available, exactly once.
      await crashed.flush();
      await crashed.flush();
      const entries = await usageEntries(wallet.id);
      expect(entries.map((entry) => [entry.amount, entry.details?.requests])).toEqual([[-300, 3]]);
      expect(crashed.stats.lateEntries).toBe(1);
      expect(await getBalance(database.db, wallet.id)).toMatchObject({ balance: 99_700, held: 0 });
      expect(await verifyLedger(database.db)).toEqual([]);

      // A new process leases the wallet again.
      const restarted = new CreditLeases({ db: database.db, ttlSeconds: 60 });
      expect(await meteringFor(wallet.ownerId, restarted)(100)).toBe(200);
      expect(restarted.stats.leasesTaken).toBe(1);
      await restarted.close();
      await crashed.close();
      expect(await verifyLedger(database.db)).toEqual([]);
    });

    /** The database, except that `fail.next` makes the next statement it names commit and then answer an error. */
    function flakyDatabase(fail: { next: 'answer' | 'late-charge' | undefined }): Database {
      const real = database.db;
      return new Proxy(real, {
        get(target, property, receiver) {
          if (property !== 'execute') return Reflect.get(target, property, receiver);
          return async (statement: Parameters<Database['execute']>[0]) => {
            const text = JSON.stringify(statement);
            const late = text.includes('not exists (select 1 from ledger_entries where idempotency_key');
            if (fail.next === 'late-charge' && late) {
              fail.next = undefined;
              throw new Error('connection lost before the late charge');
            }
            const result = await target.execute(statement);
            if (fail.next === 'answer' && text.includes('billing_write_usage_batch')) {
              fail.next = undefined;
              throw new Error('connection lost after the batch committed');
            }
            return result;
          };
        },
      }) as Database;
    }

    for (const [failure, order] of [
      ['answer', 'late entry first'],
      ['late-charge', 'leased entry first'],
    ] as const) {
      it(`retries a batch that committed but failed (${failure}, ${order}): every entry charged exactly once`, async () => {
        const fail: { next: 'answer' | 'late-charge' | undefined } = { next: undefined };
        const leases = new CreditLeases({ db: flakyDatabase(fail), ttlSeconds: 60, flushEveryMs: 3_600_000 });
        const lapsed = await fundedWallet(100_000);
        const live = await fundedWallet(100_000);
        const onLapsed = await leases.reserve(lapsed.id, 100);
        const onLive = await leases.reserve(live.id, 100);
        // The lapsed wallet's lease is returned by the expiry job (its process stalled past the TTL).
        expect(await expireHolds(database.db, new Date(Date.now() + 120_000), { walletId: lapsed.id })).toBe(
          1,
        );
        const usage = (tokens: number) => ({
          requestId: randomUUID(),
          idempotencyKey: `usage:lease:test:${randomUUID()}`,
          details: { inputTokens: 0, outputTokens: tokens, cachedInputTokens: 0 },
        });
        const settleLapsed = () => leases.settle(onLapsed!, 40, usage(40));
        const settleLive = () => leases.settle(onLive!, 50, usage(50));
        if (order === 'late entry first') {
          settleLapsed();
          settleLive();
        } else {
          settleLive();
          settleLapsed();
        }
        fail.next = failure;
        await leases.flush(); // the batch commits; its answer or the late charge after it fails
        expect(fail.next).toBeUndefined();
        await leases.flush(); // the retry
        await leases.flush();

        const amounts = async (walletId: string) =>
          (await usageEntries(walletId)).map((entry) => entry.amount);
        expect(await amounts(lapsed.id)).toEqual([-40]);
        expect(await amounts(live.id)).toEqual([-50]);
        expect(await getBalance(database.db, lapsed.id)).toEqual({
          balance: 99_960,
          held: 0,
          available: 99_960,
        });
        await leases.close();
        expect(await getBalance(database.db, live.id)).toEqual({
          balance: 99_950,
          held: 0,
          available: 99_950,
        });
        expect(await verifyLedger(database.db)).toEqual([]);
      });
    }

    it('gives an idle lease back and renews a busy one before its TTL', async () => {
      const wallet = await fundedWallet(100_000);
      const leases = new CreditLeases({ db: database.db, ttlSeconds: 60, idleMs: 100 });
      expect(await meteringFor(wallet.ownerId, leases)(100)).toBe(200);
      const [lease] = await database.db
        .select()
        .from(creditHolds)
        .where(and(eq(creditHolds.walletId, wallet.id), eq(creditHolds.status, 'active')));
      expect(lease?.requestId).toMatch(/^lease:/);
      // Idle for 100 ms, the lease gives back what it did not spend.
      await expect
        .poll(() => getBalance(database.db, wallet.id))
        .toEqual({
          balance: 99_900,
          held: 0,
          available: 99_900,
        });
      await leases.close();
    });
  });
}
