import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stores } from '../../stores/index.js';
import { storeBackends } from '../../testing/backends.js';
import { SignInThrottle } from './sign-in-throttle.js';

for (const backend of storeBackends()) {
  describe(`sign-in throttle on ${backend.name}`, () => {
    let stores: Stores;
    beforeAll(async () => {
      stores = await backend.open();
    });
    afterAll(() => stores.close());

    it('counts every one of 50 simultaneous failures and locks', async () => {
      const throttle = new SignInThrottle(stores, { freeFailures: 3, lockAfter: 10 });
      const results = await Promise.all(
        Array.from({ length: 50 }, () => throttle.recordFailure('racer@example.com')),
      );
      expect(results.map((result) => result.failures).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, index) => index + 1),
      );
      expect(results.filter((result) => result.locked)).toHaveLength(41);
      const decision = await throttle.check('racer@example.com');
      expect(decision).toMatchObject({ allowed: false, reason: 'locked' });
      expect(decision.allowed === false && decision.retryAfterMs).toBeGreaterThan(14 * 60_000);
    });

    it('lets the free tries through, then makes the next one wait, and forgets it all on clear', async () => {
      // Its own clock, so the wait lasts exactly as long as the test says, however slow the machine.
      let clock = Date.now();
      const throttle = new SignInThrottle(stores, { freeFailures: 3, lockAfter: 10, now: () => clock });
      const email = 'pacer@example.com';
      for (let index = 0; index < 2; index += 1) await throttle.recordFailure(email);
      expect(await throttle.check(email)).toEqual({ allowed: true });
      await throttle.recordFailure(email);
      clock += 999;
      expect(await throttle.check(email)).toEqual({ allowed: false, reason: 'delay', retryAfterMs: 1 });
      clock += 1;
      expect(await throttle.check(email)).toEqual({ allowed: true });
      await throttle.recordFailure(email);
      expect(await throttle.check(email)).toEqual({ allowed: false, reason: 'delay', retryAfterMs: 2000 });
      await throttle.clear(email);
      expect(await throttle.check(email)).toEqual({ allowed: true });
      expect((await throttle.recordFailure(email)).failures).toBe(1);
    });
  });
}
