import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import {
  fakeCompletion,
  type GatewayHarness,
  startGatewayHarness,
  tenTokenRequest,
} from '../../testing/gateway-harness.js';
import { type SignedInClient, signUpAndSignIn, tokenFromEmail, waitForEmail } from '../accounts/testing.js';
import { getBalance, postEntry, renewPlans, setWalletPlan, verifyLedger } from '../billing/index.js';
import { ledgerEntries } from '../billing/tables.js';

/** A completion whose usage equals what the hold assumes, so a budget affords an exact number of calls. */

const request = tenTokenRequest;

for (const pair of backendPairs()) {
  describe(`/v1 paid from an organisation's wallet on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let owner: SignedInClient;
    let member: SignedInClient;
    let organizationId: string;
    let organizationWalletId: string;
    let costOfOne: number;

    const as = (client: SignedInClient, options: InjectOptions) =>
      harness.app.inject({ ...options, headers: { ...client.headers, ...options.headers } });

    const call = (key: string) =>
      fetch(`${harness.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(request),
      }).then(async (response) => {
        await response.arrayBuffer();
        return response;
      });

    // Usage may be written in batches shortly after the answer (billing's credit leases): write it out before reading.
    const flushUsage = () => harness.app.billing.flushUsage();

    async function createKey(client: SignedInClient, forOrganization?: string) {
      const response = await as(client, {
        method: 'POST',
        url: '/api/keys',
        payload: { name: 'org key', ...(forOrganization ? { organizationId: forOrganization } : {}) },
      });
      return response;
    }

    async function grant(walletId: string, credits: number) {
      await postEntry(harness.app.db, {
        walletId,
        kind: 'grant',
        amount: credits,
        idempotencyKey: `test-grant-${randomUUID()}`,
      });
    }

    /**
     * /v1 refuses models outside the caller's plan (the free plan lists none of the test models): the people and
     * the organisation are put on Pro, and the month's plan credits granted now, so no renewal lands mid-test.
     */
    async function onPro(walletId: string) {
      await setWalletPlan(harness.app.db, { walletId, plan: 'pro' });
      await renewPlans(harness.app.db, { timeZone: harness.app.billing.timeZone });
    }

    async function join(
      client: SignedInClient,
      options: { personalPlan: 'pro' | 'free' } = { personalPlan: 'pro' },
    ) {
      if (options.personalPlan === 'pro')
        await onPro((await harness.app.billing.userWallet(client.userId)).id);
      const after = new Date(Date.now() - 1_000);
      const invited = await as(owner, {
        method: 'POST',
        url: `/api/organizations/${organizationId}/invitations`,
        payload: { email: client.email },
      });
      expect(invited.statusCode).toBe(201);
      const mail = await waitForEmail(harness.app, {
        to: client.email,
        template: 'organization_invitation',
        after,
      });
      const accepted = await as(client, {
        method: 'POST',
        url: '/api/organizations/invitations/accept',
        payload: { token: tokenFromEmail(mail.text, '/organizations/accept') },
      });
      expect(accepted.statusCode).toBe(200);
    }

    beforeAll(async () => {
      harness = await startGatewayHarness(pair, { metering: 'ledger' });
      [owner, member] = await Promise.all([signUpAndSignIn(harness.app), signUpAndSignIn(harness.app)]);
      const created = await as(owner, {
        method: 'POST',
        url: '/api/organizations',
        payload: { name: 'Spenders' },
      });
      organizationId = created.json().organization.id;
      organizationWalletId = created.json().walletId;
      await onPro(organizationWalletId);
      await join(member);
      const book = await harness.app.billing.prices.get();
      costOfOne = book.priceUsage({
        model: 'gpt-test',
        usage: { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 },
        plan: { priceMultiplierPermille: 1000 },
      }).credits;
      expect(costOfOne).toBeGreaterThan(0);
    });
    afterAll(() => harness.close());
    beforeEach(() => {
      harness.primary.setHandler(() => fakeCompletion());
    });

    it('lets only members create a key for an organisation', async () => {
      const outsider = await signUpAndSignIn(harness.app);
      const refused = await createKey(outsider, organizationId);
      expect(refused.statusCode).toBe(404);
      const unknown = await createKey(member, randomUUID());
      expect(unknown.statusCode).toBe(404);
      const created = await createKey(member, organizationId);
      expect(created.statusCode).toBe(201);
      expect(created.json().summary.organizationId).toBe(organizationId);
      const listed = await as(member, { url: '/api/keys' });
      expect(listed.json().keys[0].organizationId).toBe(organizationId);
    });

    it('charges an organisation key’s calls to the organisation’s wallet, recording the member', async () => {
      const key = (await createKey(member, organizationId)).json().key as string;
      await grant(organizationWalletId, costOfOne * 3);
      const personal = await harness.app.billing.userWallet(member.userId);
      const personalBefore = await getBalance(harness.app.db, personal.id);
      const orgBefore = await getBalance(harness.app.db, organizationWalletId);

      const response = await call(key);
      expect(response.status).toBe(200);
      expect(Number(response.headers.get('x-webox-credits-charged'))).toBe(costOfOne);
      const requestId = response.headers.get('x-request-id')!;
      await flushUsage();

      const orgAfter = await getBalance(harness.app.db, organizationWalletId);
      expect(orgAfter.balance).toBe(orgBefore.balance - costOfOne);
      expect(await getBalance(harness.app.db, personal.id)).toEqual(personalBefore);
      const [entry] = await harness.app.db
        .select()
        .from(ledgerEntries)
        .where(and(eq(ledgerEntries.walletId, organizationWalletId), eq(ledgerEntries.requestId, requestId)));
      expect(entry).toMatchObject({ kind: 'usage', amount: -costOfOne, memberUserId: member.userId });

      // The member sees their own usage in the organisation's ledger; the owner sees it too.
      const mine = (await as(member, { url: `/api/organizations/${organizationId}/ledger` })).json();
      expect(mine.entries.every((row: { memberUserId: string }) => row.memberUserId === member.userId)).toBe(
        true,
      );
      expect(mine.entries.some((row: { requestId: string }) => row.requestId === requestId)).toBe(true);
      const all = (await as(owner, { url: `/api/organizations/${organizationId}/ledger` })).json();
      expect(all.entries.some((row: { requestId: string }) => row.requestId === requestId)).toBe(true);

      // A personal key of the same member pays from their own wallet.
      const personalKey = (await createKey(member)).json().key as string;
      expect((await call(personalKey)).status).toBe(200);
      await flushUsage();
      expect((await getBalance(harness.app.db, personal.id)).balance).toBe(
        personalBefore.balance - costOfOne,
      );
      expect((await getBalance(harness.app.db, organizationWalletId)).balance).toBe(orgAfter.balance);
    });

    it('lets a free-plan member use the models of the organisation’s plan through its key, not their own', async () => {
      const free = await signUpAndSignIn(harness.app);
      await join(free, { personalPlan: 'free' });
      await grant(organizationWalletId, costOfOne * 2);
      await grant((await harness.app.billing.userWallet(free.userId)).id, costOfOne * 2);
      const organizationKey = (await createKey(free, organizationId)).json().key as string;
      expect((await call(organizationKey)).status).toBe(200);
      const personalKey = (await createKey(free)).json().key as string;
      expect((await call(personalKey)).status).toBe(403);
    });

    it('never lets racing calls of a member spend more than their monthly limit', async () => {
      const spender = await signUpAndSignIn(harness.app);
      await join(spender);
      const limited = await as(owner, {
        method: 'PUT',
        url: `/api/organizations/${organizationId}/members/${spender.userId}/limits`,
        payload: { monthlyCreditLimit: costOfOne * 5 },
      });
      expect(limited.statusCode).toBe(200);
      await grant(organizationWalletId, costOfOne * 100);
      const key = (await createKey(spender, organizationId)).json().key as string;

      const statuses = await Promise.all(
        Array.from({ length: 40 }, () => call(key).then((response) => response.status)),
      );
      const tally: Record<number, number> = {};
      for (const status of statuses) tally[status] = (tally[status] ?? 0) + 1;
      expect(tally[200]).toBe(5);
      expect(tally[429]).toBe(35);
      await flushUsage();
      const spent = await harness.app.db
        .select({ amount: ledgerEntries.amount })
        .from(ledgerEntries)
        .where(
          and(
            eq(ledgerEntries.walletId, organizationWalletId),
            eq(ledgerEntries.memberUserId, spender.userId),
            eq(ledgerEntries.kind, 'usage'),
          ),
        );
      expect(-spent.reduce((sum, row) => sum + row.amount, 0)).toBeLessThanOrEqual(costOfOne * 5);

      // Raising the limit takes effect at once (every process drops the cached membership).
      await as(owner, {
        method: 'PUT',
        url: `/api/organizations/${organizationId}/members/${spender.userId}/limits`,
        payload: { monthlyCreditLimit: costOfOne * 6 },
      });
      expect((await call(key)).status).toBe(200);
      expect((await call(key)).status).toBe(429);
      await flushUsage();
      expect(await verifyLedger(harness.app.db)).toEqual([]);
    });

    it('stops a removed member’s organisation keys at once, and keeps their personal keys', async () => {
      const leaver = await signUpAndSignIn(harness.app);
      await join(leaver);
      await grant(organizationWalletId, costOfOne * 5);
      const key = (await createKey(leaver, organizationId)).json().key as string;
      const personalKey = (await createKey(leaver)).json().key as string;
      expect((await call(key)).status).toBe(200);

      const removed = await as(owner, {
        method: 'DELETE',
        url: `/api/organizations/${organizationId}/members/${leaver.userId}`,
      });
      expect(removed.statusCode).toBe(200);
      expect(removed.json()).toEqual({ revokedKeys: 1 });
      expect((await call(key)).status).toBe(401);
      const keys = (await as(leaver, { url: '/api/keys' })).json().keys as Array<{
        organizationId: string | null;
        revokedAt: string | null;
      }>;
      expect(keys.find((row) => row.organizationId)?.revokedAt).not.toBeNull();
      expect(keys.find((row) => !row.organizationId)?.revokedAt).toBeNull();
      // The personal key still works.
      expect((await call(personalKey)).status).toBe(200);
      // A former member cannot create a new key for the organisation either.
      expect((await createKey(leaver, organizationId)).statusCode).toBe(404);
    });
  });
}
