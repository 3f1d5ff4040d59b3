import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { createSignedInAccount } from '../accounts/testing.js';
import type * as ledgerModule from './ledger.js';
import { ensureWallet } from './ledger.js';
import type * as singleFlightModule from './single-flight.js';

// Seams, nothing else changed: every scan of the ledger is counted and can be held at its start (or made to fail),
// and every request that asks for a scan is counted, whether it starts one or joins one.
const scans = vi.hoisted(() => ({
  count: 0,
  gate: undefined as Promise<void> | undefined,
  failure: undefined as Error | undefined,
}));
const asked = vi.hoisted(() => ({ count: 0 }));

vi.mock('./ledger.js', async (importOriginal) => {
  const actual = await importOriginal<typeof ledgerModule>();
  return {
    ...actual,
    verifyLedger: async (...args: Parameters<typeof actual.verifyLedger>) => {
      scans.count += 1;
      await scans.gate;
      if (scans.failure) throw scans.failure;
      return actual.verifyLedger(...args);
    },
  };
});

vi.mock('./single-flight.js', async (importOriginal) => {
  const actual = await importOriginal<typeof singleFlightModule>();
  return {
    singleFlight<T>(run: () => Promise<T>) {
      const shared = actual.singleFlight(run);
      return () => {
        asked.count += 1;
        return shared();
      };
    },
  };
});

/** Until a second request since `before` has asked for a scan (joined the running one) or started one of its own. */
function secondArrived(before: { scans: number; asked: number }) {
  return vi.waitFor(
    () => expect(asked.count - before.asked >= 2 || scans.count - before.scans >= 2).toBe(true),
    { timeout: 10_000 },
  );
}

let releaseScans: (() => void) | undefined;

/** Holds every scan that starts from now at its beginning, until the returned function is called. */
function holdScans(): () => void {
  let release!: () => void;
  scans.gate = new Promise((resolve) => {
    release = resolve;
  });
  releaseScans = () => {
    scans.gate = undefined;
    releaseScans = undefined;
    release();
  };
  return releaseScans;
}

for (const pair of backendPairs()) {
  describe(`GET /api/admin/billing/verify runs one ledger scan at a time per process, on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness.close());
    // A test that failed while holding scans lets them go, so the next test and the app's close are not held.
    afterEach(() => {
      scans.failure = undefined;
      releaseScans?.();
    });

    // Each check by a new admin: every admin has 3 a minute, and N admins at once is the case in point.
    const check = async () => {
      const admin = await createSignedInAccount(harness.app, { role: 'admin' });
      return harness.app.inject({ url: '/api/admin/billing/verify', headers: admin.headers });
    };

    /** Two admins' checks, the second asked for while the first one's scan is held; both answers once it is let go. */
    const checkTwiceDuringOneScan = async () => {
      const before = { scans: scans.count, asked: asked.count };
      const release = holdScans();
      const first = check();
      await vi.waitFor(() => expect(scans.count).toBe(before.scans + 1), { timeout: 10_000 });
      const second = check();
      // The second request has asked for a scan while the first one's is still held.
      await secondArrived(before);
      release();
      return { before, answers: await Promise.all([first, second]) };
    };

    it('gives two admins who check at once the one scan between them, and both its answer', async () => {
      const { before, answers } = await checkTwiceDuringOneScan();
      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
      expect(answers[0]!.json()).toEqual({ ok: true, mismatches: [] });
      expect(answers[1]!.json()).toEqual(answers[0]!.json());
      expect(scans.count - before.scans).toBe(1);
    });

    it('scans afresh for a check that comes after the last scan ended, and sees what changed in between', async () => {
      const before = scans.count;
      expect((await check()).json()).toEqual({ ok: true, mismatches: [] });
      // A cached balance that its (no) entries do not account for, written behind the ledger's back.
      const customer = await createSignedInAccount(harness.app);
      const wallet = await ensureWallet(harness.app.db, { ownerType: 'user', ownerId: customer.userId });
      await harness.app.db.execute(sql`update wallets set balance = 5 where id = ${wallet.id}`);

      const after = await check();
      expect(after.statusCode, after.body).toBe(200);
      expect(after.json()).toEqual({
        ok: false,
        mismatches: [expect.objectContaining({ walletId: wallet.id, balance: 5, sumOfEntries: 0 })],
      });
      await harness.app.db.execute(sql`update wallets set balance = 0 where id = ${wallet.id}`);
      expect((await check()).json()).toEqual({ ok: true, mismatches: [] });
      expect(scans.count - before).toBe(3);
    });

    it("gives a failed scan's error to every request waiting on it, in the one error shape, then scans again", async () => {
      scans.failure = new Error('terminating connection: select from ledger_entries union all credit_holds');
      const { before, answers } = await checkTwiceDuringOneScan();
      scans.failure = undefined;
      for (const answer of answers) {
        expect(answer.statusCode).toBe(500);
        expect(answer.json()).toEqual({ error: { code: 'internal_error', message: expect.any(String) } });
        expect(answer.body).not.toMatch(/ledger_entries|select|terminating/);
      }
      expect(scans.count - before.scans).toBe(1);

      const next = await check();
      expect(next.statusCode, next.body).toBe(200);
      expect(next.json()).toEqual({ ok: true, mismatches: [] });
      expect(scans.count - before.scans).toBe(2);
    });
  });
}
