import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { accountsContext } from './context.js';
import { signInWithOAuth } from './oauth.js';
import { auditEvents, users } from './tables.js';
import {
  randomIp,
  type SignedInClient,
  signUpAndSignIn,
  tokenFromEmail,
  uniqueEmail,
  waitForEmail,
} from './testing.js';

const TAKEN = { code: 'conflict', message: 'Another account already uses this address.' };

/**
 * Several ways of claiming one address at the same instant (email change links, sign-up, OAuth), raced for real:
 * the unique address of `users.email` decides, and the others get a clear answer with nothing of theirs written.
 */
for (const pair of backendPairs()) {
  describe(`claiming one address at the same moment on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(async () => {
      await harness?.close();
    });
    const app = () => harness.app;
    const db = () => harness.database.db;

    /** Asks for `newEmail` on the account and returns the confirmation link's token. */
    async function requestChange(client: SignedInClient, newEmail: string): Promise<string> {
      const after = new Date();
      const requested = await app().inject({
        method: 'POST',
        url: '/api/account/email',
        headers: client.headers,
        remoteAddress: randomIp(),
        payload: { password: client.password, newEmail },
      });
      expect(requested.statusCode).toBe(202);
      const mail = await waitForEmail(app(), { to: newEmail, template: 'change_email', after });
      return tokenFromEmail(mail.text, '/confirm-email-change');
    }

    const confirm = (token: string) =>
      app().inject({
        method: 'POST',
        url: '/api/auth/email-change/confirm',
        remoteAddress: randomIp(),
        payload: { token },
      });

    async function holdersOf(email: string) {
      return db().select({ id: users.id }).from(users).where(eq(users.email, email));
    }

    async function changedEvents(userIds: string[]) {
      return db()
        .select({ userId: auditEvents.userId })
        .from(auditEvents)
        .where(and(inArray(auditEvents.userId, userIds), eq(auditEvents.type, 'email.changed')));
    }

    it('lets one of three accounts confirming the same new address win; the others get 409 and keep theirs', async () => {
      for (let round = 0; round < 2; round++) {
        const wanted = uniqueEmail('wanted');
        const clients = await Promise.all([0, 1, 2].map(() => signUpAndSignIn(app())));
        const tokens: string[] = [];
        // One at a time: each request mails a link to the same address, read before the next is asked.
        for (const client of clients) tokens.push(await requestChange(client, wanted));
        const answers = await Promise.all(tokens.map(confirm));
        expect(answers.map((answer) => answer.statusCode).sort()).toEqual([200, 409, 409]);
        const winner = clients[answers.findIndex((answer) => answer.statusCode === 200)]!;
        for (const answer of answers.filter((candidate) => candidate.statusCode === 409)) {
          expect(answer.json().error).toEqual(TAKEN);
        }
        expect(await holdersOf(wanted)).toEqual([{ id: winner.userId }]);
        for (const client of clients.filter((candidate) => candidate !== winner)) {
          const [row] = await db()
            .select({ email: users.email, verified: users.emailVerifiedAt })
            .from(users)
            .where(eq(users.id, client.userId));
          expect(row!.email).toBe(client.email);
          expect(row!.verified).not.toBeNull();
        }
        // Only the winner's change is in the journal.
        expect(await changedEvents(clients.map((client) => client.userId))).toEqual([
          { userId: winner.userId },
        ]);
      }
    });

    it('answers a sign-up racing an email change to its address with 202, and one account holds it', async () => {
      for (let round = 0; round < 3; round++) {
        const wanted = uniqueEmail('contested');
        const mover = await signUpAndSignIn(app());
        const token = await requestChange(mover, wanted);
        const [confirmed, signedUp] = await Promise.all([
          confirm(token),
          app().inject({
            method: 'POST',
            url: '/api/auth/sign-up',
            remoteAddress: randomIp(),
            payload: { email: wanted, password: 'another sturdy passphrase 7', name: 'Racer' },
          }),
        ]);
        expect(signedUp.statusCode).toBe(202);
        expect([200, 409]).toContain(confirmed.statusCode);
        const holders = await holdersOf(wanted);
        expect(holders).toHaveLength(1);
        if (confirmed.statusCode === 409) {
          expect(confirmed.json().error).toEqual(TAKEN);
          expect(holders[0]!.id).not.toBe(mover.userId);
          expect(await changedEvents([mover.userId])).toEqual([]);
        } else {
          expect(holders[0]!.id).toBe(mover.userId);
        }
      }
    });

    it('lets OAuth with a verified address racing an email change (or a sign-up) to it sign in to whichever account holds it', async () => {
      for (let round = 0; round < 3; round++) {
        const wanted = uniqueEmail('oauth-race');
        const mover = await signUpAndSignIn(app());
        const token = await requestChange(mover, wanted);
        const oauth = (provider: 'github' | 'google') =>
          signInWithOAuth(accountsContext(app()), {
            provider,
            identity: {
              providerUserId: `${provider}-${wanted}`,
              email: wanted,
              emailVerified: true,
              name: 'Racer',
            },
          });
        // Two providers at once as well: both look the address up, find nobody, and create it.
        const [confirmed, ...viaOAuth] = await Promise.all([
          confirm(token),
          oauth('github'),
          oauth('google'),
        ]);
        expect([200, 409]).toContain(confirmed.statusCode);
        if (confirmed.statusCode === 409) expect(confirmed.json().error).toEqual(TAKEN);
        const holders = await holdersOf(wanted);
        expect(holders).toHaveLength(1);
        for (const result of viaOAuth)
          expect(result).toMatchObject({ kind: 'session', userId: holders[0]!.id });
      }
      for (let round = 0; round < 3; round++) {
        const wanted = uniqueEmail('oauth-sign-up');
        const [signedUp, viaOAuth] = await Promise.all([
          app().inject({
            method: 'POST',
            url: '/api/auth/sign-up',
            remoteAddress: randomIp(),
            payload: { email: wanted, password: 'another sturdy passphrase 7', name: 'Racer' },
          }),
          signInWithOAuth(accountsContext(app()), {
            provider: 'google',
            identity: { providerUserId: `g-${wanted}`, email: wanted, emailVerified: true, name: 'Racer' },
          }).catch((error: unknown) => error),
        ]);
        expect(signedUp.statusCode).toBe(202);
        expect(viaOAuth).not.toBeInstanceOf(Error);
        expect(viaOAuth).not.toBeInstanceOf(AppError);
        const holders = await holdersOf(wanted);
        expect(holders).toHaveLength(1);
        expect((viaOAuth as { userId: string }).userId).toBe(holders[0]!.id);
      }
    });
  });
}
