import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import {
  type SignedInClient,
  signUpAndSignIn,
  tokenFromEmail,
  uniqueEmail,
  waitForEmail,
} from '../accounts/testing.js';
import { getBalance, postEntry, verifyLedger } from '../billing/index.js';
import { createInvitation } from './service.js';

for (const pair of backendPairs()) {
  describe(`organisations HTTP API on ${pair.name}`, () => {
    let harness: TestApp;
    let owner: SignedInClient;
    let member: SignedInClient;
    let outsider: SignedInClient;
    let organizationId: string;

    const inject = (options: InjectOptions) => harness.app.inject(options);
    const as = (client: SignedInClient, options: InjectOptions) =>
      inject({ ...options, headers: { ...client.headers, ...options.headers } });

    async function createOrganization(client: SignedInClient, name = 'Acme') {
      const response = await as(client, { method: 'POST', url: '/api/organizations', payload: { name } });
      expect(response.statusCode).toBe(201);
      return response.json().organization.id as string;
    }

    /** Invites `invitee` by email and returns the token from the email. */
    async function invite(
      by: SignedInClient,
      orgId: string,
      email: string,
      role: 'owner' | 'member' = 'member',
    ) {
      const after = new Date();
      const response = await as(by, {
        method: 'POST',
        url: `/api/organizations/${orgId}/invitations`,
        payload: { email, role },
      });
      expect(response.statusCode).toBe(201);
      const mail = await waitForEmail(harness.app, {
        to: email.toLowerCase(),
        template: 'organization_invitation',
        after: new Date(after.getTime() - 1_000),
      });
      return { mail, token: tokenFromEmail(mail.text, '/organizations/accept') };
    }

    async function accept(client: SignedInClient, token: string) {
      return as(client, { method: 'POST', url: '/api/organizations/invitations/accept', payload: { token } });
    }

    async function fundPersonal(client: SignedInClient, credits: number) {
      const wallet = await harness.app.billing.userWallet(client.userId);
      await postEntry(harness.app.db, {
        walletId: wallet.id,
        kind: 'grant',
        amount: credits,
        idempotencyKey: `test-grant-${randomUUID()}`,
      });
      return wallet.id;
    }

    beforeAll(async () => {
      harness = await createTestApp(pair);
      [owner, member, outsider] = await Promise.all([
        signUpAndSignIn(harness.app, { name: 'Olive Owner' }),
        signUpAndSignIn(harness.app, { name: 'Max Member' }),
        signUpAndSignIn(harness.app, { name: 'Otto Outsider' }),
      ]);
      organizationId = await createOrganization(owner, 'Acme Research');
      const { token } = await invite(owner, organizationId, member.email);
      expect((await accept(member, token)).statusCode).toBe(200);
    });
    afterAll(() => harness?.close());

    it('makes the creator the owner of a new organisation with an empty wallet, listed as theirs', async () => {
      const listed = await as(owner, { url: '/api/organizations' });
      expect(listed.statusCode).toBe(200);
      expect(listed.json().organizations).toEqual([
        expect.objectContaining({ id: organizationId, name: 'Acme Research', role: 'owner', members: 2 }),
      ]);
      const mine = await as(member, { url: '/api/organizations' });
      expect(mine.json().organizations).toEqual([
        expect.objectContaining({ id: organizationId, role: 'member' }),
      ]);
      expect((await as(outsider, { url: '/api/organizations' })).json().organizations).toEqual([]);
      const balance = await as(owner, { url: `/api/organizations/${organizationId}/balance` });
      expect(balance.json()).toMatchObject({ balance: 0, held: 0, available: 0 });
    });

    it('answers who may do what: 401 signed out, 404 for outsiders, 403 for members on owner actions', async () => {
      const someUser = randomUUID();
      const routes: Array<{
        method: InjectOptions['method'];
        url: string;
        payload?: unknown;
        owner: boolean;
      }> = [
        { method: 'GET', url: `/api/organizations/${organizationId}`, owner: false },
        { method: 'GET', url: `/api/organizations/${organizationId}/members`, owner: false },
        { method: 'GET', url: `/api/organizations/${organizationId}/balance`, owner: false },
        { method: 'GET', url: `/api/organizations/${organizationId}/ledger`, owner: false },
        { method: 'GET', url: `/api/organizations/${organizationId}/invitations`, owner: true },
        {
          method: 'POST',
          url: `/api/organizations/${organizationId}/invitations`,
          payload: { email: uniqueEmail('matrix') },
          owner: true,
        },
        {
          method: 'DELETE',
          url: `/api/organizations/${organizationId}/invitations/${randomUUID()}`,
          owner: true,
        },
        { method: 'PATCH', url: `/api/organizations/${organizationId}`, payload: { name: 'X' }, owner: true },
        {
          method: 'PATCH',
          url: `/api/organizations/${organizationId}/members/${someUser}`,
          payload: { role: 'owner' },
          owner: true,
        },
        {
          method: 'PUT',
          url: `/api/organizations/${organizationId}/members/${someUser}/limits`,
          payload: { monthlyCreditLimit: 10 },
          owner: true,
        },
        { method: 'DELETE', url: `/api/organizations/${organizationId}/members/${someUser}`, owner: true },
        {
          method: 'POST',
          url: `/api/organizations/${organizationId}/transfers`,
          payload: { amount: 1 },
          owner: true,
        },
      ];
      for (const route of routes) {
        const request = {
          method: route.method,
          url: route.url,
          headers: { 'idempotency-key': `matrix-${randomUUID()}` },
          ...(route.payload === undefined ? {} : { payload: route.payload as object }),
        };
        const anonymous = await inject(request);
        expect(anonymous.statusCode, `${route.method} ${route.url} signed out`).toBe(401);
        const stranger = await as(outsider, request);
        expect(stranger.statusCode, `${route.method} ${route.url} as an outsider`).toBe(404);
        expect(stranger.json().error.code).toBe('not_found');
        const asMember = await as(member, request);
        if (route.owner) {
          expect(asMember.statusCode, `${route.method} ${route.url} as a member`).toBe(403);
          expect(asMember.json().error.code).toBe('forbidden');
        } else {
          expect(asMember.statusCode, `${route.method} ${route.url} as a member`).toBe(200);
        }
      }
      // An unknown organisation looks exactly like someone else's.
      const unknown = await as(outsider, { url: `/api/organizations/${randomUUID()}` });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json()).toEqual(
        (await as(outsider, { url: `/api/organizations/${organizationId}` })).json(),
      );
    });

    it('refuses virtual keys on organisation routes: they are for people', async () => {
      const created = await as(owner, { method: 'POST', url: '/api/keys', payload: { name: 'k' } });
      const response = await inject({
        url: '/api/organizations',
        headers: { authorization: `Bearer ${created.json().key}` },
      });
      expect(response.statusCode).toBe(401);
    });

    it('shows members’ limits to owners and to each member for themself only', async () => {
      const set = await as(owner, {
        method: 'PUT',
        url: `/api/organizations/${organizationId}/members/${member.userId}/limits`,
        payload: { monthlyCreditLimit: 1_000, dailyCreditLimit: 100 },
      });
      expect(set.statusCode).toBe(200);
      expect(set.json().member).toMatchObject({ monthlyCreditLimit: 1_000, dailyCreditLimit: 100 });
      const seenByOwner = (await as(owner, { url: `/api/organizations/${organizationId}/members` })).json();
      expect(seenByOwner.members).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ userId: owner.userId, role: 'owner', name: 'Olive Owner' }),
          expect.objectContaining({ userId: member.userId, role: 'member', monthlyCreditLimit: 1_000 }),
        ]),
      );
      const seenByMember = (await as(member, { url: `/api/organizations/${organizationId}/members` })).json();
      expect(seenByMember.members).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            userId: member.userId,
            monthlyCreditLimit: 1_000,
            dailyCreditLimit: 100,
          }),
        ]),
      );
      // Clearing one limit keeps the other absent too when not sent (daily defaults to none).
      const cleared = await as(owner, {
        method: 'PUT',
        url: `/api/organizations/${organizationId}/members/${member.userId}/limits`,
        payload: { monthlyCreditLimit: null },
      });
      expect(cleared.json().member).toMatchObject({ monthlyCreditLimit: null, dailyCreditLimit: null });
    });

    it('keeps at least one owner: the last owner can neither be demoted, removed nor leave', async () => {
      const orgId = await createOrganization(owner, 'Solo');
      const demote = await as(owner, {
        method: 'PATCH',
        url: `/api/organizations/${orgId}/members/${owner.userId}`,
        payload: { role: 'member' },
      });
      expect(demote.statusCode).toBe(409);
      expect(demote.json().error.code).toBe('conflict');
      const remove = await as(owner, {
        method: 'DELETE',
        url: `/api/organizations/${orgId}/members/${owner.userId}`,
      });
      expect(remove.statusCode).toBe(409);
      const leave = await as(owner, { method: 'POST', url: `/api/organizations/${orgId}/leave` });
      expect(leave.statusCode).toBe(409);

      // With a second owner, two owners demoting each other at once still leave one owner.
      const second = await signUpAndSignIn(harness.app);
      const { token } = await invite(owner, orgId, second.email, 'owner');
      expect((await accept(second, token)).json().membership.role).toBe('owner');
      const [first, other] = await Promise.all([
        as(owner, {
          method: 'PATCH',
          url: `/api/organizations/${orgId}/members/${second.userId}`,
          payload: { role: 'member' },
        }),
        as(second, {
          method: 'PATCH',
          url: `/api/organizations/${orgId}/members/${owner.userId}`,
          payload: { role: 'member' },
        }),
      ]);
      // One wins; the other is refused, as the last owner's demotion (409) or as no longer an owner (403).
      expect([first.statusCode, other.statusCode].filter((status) => status === 200)).toHaveLength(1);
      expect([first.statusCode, other.statusCode].find((status) => status !== 200)).toBeOneOf([403, 409]);
      // Both are still members, whatever their role now.
      const visible = (await as(owner, { url: `/api/organizations/${orgId}/members` })).json().members;
      expect(visible.filter((row: { role: string }) => row.role === 'owner')).toHaveLength(1);
    });

    it('lets an owner promote a member, then the former owner leave', async () => {
      const orgId = await createOrganization(owner, 'Handover');
      const heir = await signUpAndSignIn(harness.app);
      const { token } = await invite(owner, orgId, heir.email);
      await accept(heir, token);
      const promoted = await as(owner, {
        method: 'PATCH',
        url: `/api/organizations/${orgId}/members/${heir.userId}`,
        payload: { role: 'owner' },
      });
      expect(promoted.json().member.role).toBe('owner');
      const left = await as(owner, { method: 'POST', url: `/api/organizations/${orgId}/leave` });
      expect(left.statusCode).toBe(200);
      expect((await as(owner, { url: `/api/organizations/${orgId}` })).statusCode).toBe(404);
      expect((await as(heir, { url: `/api/organizations/${orgId}` })).json().organization.role).toBe('owner');
    });

    it('sends the invitation in the invitee’s language, visible to owners with its status', async () => {
      const email = uniqueEmail('invitee');
      const after = new Date();
      const response = await as(owner, {
        method: 'POST',
        url: `/api/organizations/${organizationId}/invitations`,
        payload: { email, locale: 'ar' },
      });
      expect(response.statusCode).toBe(201);
      expect(response.json().invitation).toMatchObject({ email, role: 'member', status: 'pending' });
      const mail = await waitForEmail(harness.app, { to: email, template: 'organization_invitation', after });
      expect(mail.locale).toBe('ar');
      expect(mail.subject).toContain('Acme Research');
      expect(mail.html).toContain('dir="rtl"');
      const listed = await as(owner, { url: `/api/organizations/${organizationId}/invitations` });
      expect(listed.json().invitations[0]).toMatchObject({ email, status: 'pending' });
      // The token itself is never shown again, not even to owners.
      expect(listed.body).not.toContain(tokenFromEmail(mail.text, '/organizations/accept'));

      const withdrawn = await as(owner, {
        method: 'DELETE',
        url: `/api/organizations/${organizationId}/invitations/${response.json().invitation.id}`,
      });
      expect(withdrawn.json().invitation.status).toBe('revoked');
    });

    it('refuses an invitation opened by an account with another address, or an unverified one', async () => {
      const invitedEmail = uniqueEmail('intended');
      const { token } = await invite(owner, organizationId, invitedEmail);
      const wrongPerson = await accept(outsider, token);
      expect(wrongPerson.statusCode).toBe(403);
      expect(wrongPerson.json().error.code).toBe('forbidden');
      const unverified = await signUpAndSignIn(harness.app, { email: invitedEmail, verify: false });
      const refused = await accept(unverified, token);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.message).toMatch(/verify/i);
      // Still pending for the right (verified) person: a refusal does not use the invitation up.
      const invitations = (
        await as(owner, { url: `/api/organizations/${organizationId}/invitations` })
      ).json().invitations;
      expect(invitations.find((row: { email: string }) => row.email === invitedEmail).status).toBe('pending');
    });

    it('refuses expired, reused, withdrawn, replaced and made-up invitations', async () => {
      // Expired: issued 8 days ago.
      const expiredFor = await signUpAndSignIn(harness.app);
      const expired = await createInvitation(harness.app.db, {
        organizationId,
        email: expiredFor.email,
        role: 'member',
        invitedBy: owner.userId,
        now: new Date(Date.now() - 8 * 24 * 3_600_000),
      });
      const late = await accept(expiredFor, expired.token);
      expect(late.statusCode).toBe(400);
      expect(late.json().error.code).toBe('token_invalid');

      // Reused: works once.
      const joiner = await signUpAndSignIn(harness.app);
      const { token } = await invite(owner, organizationId, joiner.email);
      const [once, twice] = await Promise.all([accept(joiner, token), accept(joiner, token)]);
      expect([once.statusCode, twice.statusCode].sort()).toEqual([200, 400]);
      expect((await accept(joiner, token)).json().error.code).toBe('token_invalid');

      // Replaced: a second invitation to the same address withdraws the first.
      const twiceInvited = await signUpAndSignIn(harness.app);
      const first = await invite(owner, organizationId, twiceInvited.email);
      const second = await invite(owner, organizationId, twiceInvited.email);
      expect((await accept(twiceInvited, first.token)).statusCode).toBe(400);
      expect((await accept(twiceInvited, second.token)).statusCode).toBe(200);

      // Made up, and malformed.
      expect((await accept(outsider, 'x'.repeat(43))).statusCode).toBe(400);
      expect((await accept(outsider, 'short')).json().error.code).toBe('validation_failed');

      // An existing member cannot be invited again.
      const again = await as(owner, {
        method: 'POST',
        url: `/api/organizations/${organizationId}/invitations`,
        payload: { email: member.email.toUpperCase() },
      });
      expect(again.statusCode).toBe(409);
    });

    it('moves credits from an owner’s wallet to the organisation once per Idempotency-Key', async () => {
      const personalWalletId = await fundPersonal(owner, 1_000);
      const transfer = (amount: number, key: string) =>
        as(owner, {
          method: 'POST',
          url: `/api/organizations/${organizationId}/transfers`,
          headers: { 'idempotency-key': key },
          payload: { amount, reason: 'Q3 budget' },
        });
      const key = `transfer-${randomUUID()}`;
      const moved = await transfer(300, key);
      expect(moved.statusCode).toBe(200);
      expect(moved.json()).toMatchObject({
        amount: 300,
        personalBalance: 700,
        organizationBalance: 300,
        duplicate: false,
      });
      const replay = await transfer(300, key);
      expect(replay.json()).toMatchObject({
        entryId: moved.json().entryId,
        duplicate: true,
        personalBalance: 700,
      });
      expect((await transfer(301, key)).statusCode).toBe(409);
      expect((await getBalance(harness.app.db, personalWalletId)).balance).toBe(700);

      // Both statements show the movement, each from its own side.
      const orgLedger = (await as(owner, { url: `/api/organizations/${organizationId}/ledger` })).json();
      expect(orgLedger.entries[0]).toMatchObject({
        kind: 'transfer',
        amount: 300,
        balanceAfter: 300,
        memberUserId: owner.userId,
        reason: 'Q3 budget',
      });
      const personal = (await as(owner, { url: '/api/billing/ledger' })).json();
      expect(personal.entries[0]).toMatchObject({ kind: 'transfer', amount: -300, balanceAfter: 700 });
      // A member sees only their own entries: none yet.
      const asMember = (await as(member, { url: `/api/organizations/${organizationId}/ledger` })).json();
      expect(asMember.entries).toEqual([]);

      const tooMuch = await transfer(701, `transfer-${randomUUID()}`);
      expect(tooMuch.statusCode).toBe(402);
      expect(tooMuch.json().error).toMatchObject({
        code: 'insufficient_credits',
        details: { available: 700, needed: 701 },
      });
      const missingKey = await as(owner, {
        method: 'POST',
        url: `/api/organizations/${organizationId}/transfers`,
        payload: { amount: 1 },
      });
      expect(missingKey.statusCode).toBe(400);
      expect(await verifyLedger(harness.app.db)).toEqual([]);
    });

    it('lets exactly 10 of 50 concurrent transfers through from a wallet that affords 10', async () => {
      const rich = await signUpAndSignIn(harness.app);
      const orgId = await createOrganization(rich, 'Race');
      const walletId = await fundPersonal(rich, 10 * 7);
      const statuses = await Promise.all(
        Array.from({ length: 50 }, () =>
          as(rich, {
            method: 'POST',
            url: `/api/organizations/${orgId}/transfers`,
            headers: { 'idempotency-key': `race-${randomUUID()}` },
            payload: { amount: 7 },
          }).then((response) => response.statusCode),
        ),
      );
      const tally: Record<number, number> = {};
      for (const status of statuses) tally[status] = (tally[status] ?? 0) + 1;
      expect(tally).toEqual({ 200: 10, 402: 40 });
      expect(await getBalance(harness.app.db, walletId)).toMatchObject({ balance: 0, held: 0 });
      const org = (await as(rich, { url: `/api/organizations/${orgId}/balance` })).json();
      expect(org).toMatchObject({ balance: 70, available: 70 });
      expect(await verifyLedger(harness.app.db)).toEqual([]);
    });

    it('validates input: unknown fields, oversize or empty names, bad ids, limits and amounts', async () => {
      const bad: Array<[InjectOptions['method'], string, unknown]> = [
        ['POST', '/api/organizations', { name: 'ok', plan: 'business' }],
        ['POST', '/api/organizations', { name: 'x'.repeat(101) }],
        ['POST', '/api/organizations', { name: '   ' }],
        ['POST', '/api/organizations', { name: 'tab\there' }],
        ['POST', '/api/organizations', {}],
        ['PATCH', `/api/organizations/${organizationId}`, { name: 'ok', id: randomUUID() }],
        ['POST', `/api/organizations/${organizationId}/invitations`, { email: 'not-an-email' }],
        ['POST', `/api/organizations/${organizationId}/invitations`, { email: uniqueEmail(), role: 'admin' }],
        [
          'PUT',
          `/api/organizations/${organizationId}/members/${member.userId}/limits`,
          { monthlyCreditLimit: -1 },
        ],
        [
          'PUT',
          `/api/organizations/${organizationId}/members/${member.userId}/limits`,
          { monthlyCreditLimit: 1.5 },
        ],
        ['POST', `/api/organizations/${organizationId}/transfers`, { amount: 0 }],
        ['POST', `/api/organizations/${organizationId}/transfers`, { amount: -5 }],
        ['POST', `/api/organizations/${organizationId}/transfers`, { amount: '5' }],
        ['POST', `/api/organizations/${organizationId}/transfers`, { amount: 5, to: 'elsewhere' }],
        ['GET', '/api/organizations/not-a-uuid', undefined],
      ];
      for (const [method, url, payload] of bad) {
        const response = await as(owner, {
          method,
          url,
          headers: { 'idempotency-key': `bad-${randomUUID()}` },
          ...(payload === undefined ? {} : { payload: payload as object }),
        });
        expect(response.statusCode, `${method} ${url} ${JSON.stringify(payload)}`).toBe(400);
        expect(response.json().error.code).toBe('validation_failed');
        expect(response.body).not.toMatch(/select|insert|update|stack|\bat\s/i);
      }
      const badKey = await as(owner, {
        method: 'POST',
        url: `/api/organizations/${organizationId}/transfers`,
        headers: { 'idempotency-key': 'has spaces in it' },
        payload: { amount: 1 },
      });
      expect(badKey.statusCode).toBe(400);
    });

    it('stores markup in names as plain text', async () => {
      const name = '<script>alert("x")</script><img src=x onerror=alert(1)>';
      const orgId = await createOrganization(owner, name);
      const read = await as(owner, { url: `/api/organizations/${orgId}` });
      expect(read.json().organization.name).toBe(name);
      expect(read.headers['content-type']).toMatch(/application\/json/);
      const email = uniqueEmail('xss');
      const after = new Date();
      await as(owner, { method: 'POST', url: `/api/organizations/${orgId}/invitations`, payload: { email } });
      const mail = await waitForEmail(harness.app, { to: email, template: 'organization_invitation', after });
      expect(mail.html).not.toContain('<script>');
      expect(mail.html).toContain('&lt;script&gt;');
    });
  });
}
