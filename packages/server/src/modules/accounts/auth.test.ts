import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { emailOutbox } from '../notifications/tables.js';
import { PASSWORD_RESET_JOB, SIGN_UP_MAIL_JOB } from './auth-service.js';
import { users } from './tables.js';
import {
  randomIp,
  signInWithPassword,
  signUpAndSignIn,
  tokenFromEmail,
  uniqueEmail,
  waitForEmail,
} from './testing.js';

// Each argon2 run the server starts, as `hash <cost>` or `verify <cost>` (m=memory,t=passes,p=lanes), still run.
const argon2Runs = vi.hoisted(() => [] as string[]);
vi.mock('@node-rs/argon2', async (importOriginal) => {
  const argon2 = await importOriginal<typeof import('@node-rs/argon2')>();
  return {
    ...argon2,
    hash: (password: string, options: { memoryCost?: number; timeCost?: number; parallelism?: number }) => {
      argon2Runs.push(`hash m=${options.memoryCost},t=${options.timeCost},p=${options.parallelism}`);
      return argon2.hash(password, options);
    },
    verify: (hashed: string, password: string) => {
      argon2Runs.push(`verify ${hashed.split('$')[3]}`);
      return argon2.verify(hashed, password);
    },
  };
});

function cookiesOf(response: { headers: Record<string, unknown> }): Record<string, string> {
  const raw = response.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [String(raw)] : [];
  return Object.fromEntries(
    list.map((line: string) => {
      const [pair] = line.split(';');
      const index = pair!.indexOf('=');
      return [pair!.slice(0, index), line];
    }),
  );
}

function cookieValue(line: string | undefined): string {
  return decodeURIComponent(line?.split(';')[0]?.split('=').slice(1).join('=') ?? '');
}

for (const pair of backendPairs()) {
  describe(`sign-up, sign-in and sessions on ${pair.name}`, () => {
    let harness: TestApp;
    const logLines: string[] = [];
    // The app's clock stands still here: a wait the sign-in throttle imposes lasts however long a loaded machine takes
    // to send the next try.
    const clock = Date.now();
    beforeAll(async () => {
      harness = await createTestApp(
        pair,
        { LOG_LEVEL: 'info' },
        { logStream: { write: (line) => logLines.push(line) }, now: () => clock },
      );
    });
    afterAll(() => harness.close());
    const app = () => harness.app;

    it('signs up, mails a 48-hour verification link, and confirms the address once', async () => {
      const email = uniqueEmail('Signup');
      const ip = randomIp();
      const response = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: ip,
        payload: {
          email: email.toUpperCase(),
          password: 'a sturdy passphrase 42',
          name: 'Nadia',
          locale: 'fr',
        },
      });
      expect(response.statusCode).toBe(202);
      const mail = await waitForEmail(app(), { to: email.toLowerCase(), template: 'verify_email' });
      expect(mail.locale).toBe('fr');
      expect(mail.subject).toBe('Confirmez votre adresse e-mail');
      expect(mail.html).toContain('lang="fr"');
      const token = tokenFromEmail(mail.text, '/verify-email');
      const first = await app().inject({
        method: 'POST',
        url: '/api/auth/verify-email',
        remoteAddress: ip,
        payload: { token },
      });
      expect(first.statusCode).toBe(200);
      const again = await app().inject({
        method: 'POST',
        url: '/api/auth/verify-email',
        remoteAddress: ip,
        payload: { token },
      });
      expect(again.statusCode).toBe(400);
      expect(again.json().error.code).toBe('token_invalid');
    });

    it('answers a sign-up for a taken address exactly like a new one, and mails the owner instead', async () => {
      const client = await signUpAndSignIn(app());
      const response = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: randomIp(),
        payload: { email: client.email, password: 'another sturdy phrase 7', name: 'Mallory' },
      });
      const fresh = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: randomIp(),
        payload: { email: uniqueEmail(), password: 'another sturdy phrase 7', name: 'Mallory' },
      });
      expect(response.statusCode).toBe(fresh.statusCode);
      expect(response.json()).toEqual(fresh.json());
      await waitForEmail(app(), { to: client.email, template: 'account_exists' });
      const statistics = await app().inject({ url: '/api/account/statistics', headers: client.headers });
      expect(statistics.json()).toMatchObject({
        activeSessions: 1,
        providerKeys: 0,
        last30Days: { signIns: 1 },
      });
    });

    it('refuses short and common passwords, naming the field', async () => {
      for (const password of ['short', 'qwertyuiop', '1234567890', 'password123']) {
        const response = await app().inject({
          method: 'POST',
          url: '/api/auth/sign-up',
          remoteAddress: randomIp(),
          payload: { email: uniqueEmail(), password },
        });
        expect(response.statusCode).toBe(400);
        expect(response.json().error.details[0].path).toBe('body.password');
      }
    });

    it('signs in the web with httpOnly Secure SameSite cookies and needs the CSRF header for changes', async () => {
      const client = await signUpAndSignIn(app());
      const response = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: client.ip,
        payload: { email: client.email, password: client.password },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json().tokens).toBeUndefined();
      const cookies = cookiesOf(response);
      expect(cookies.webox_access).toMatch(/HttpOnly/);
      expect(cookies.webox_access).toMatch(/Secure/);
      expect(cookies.webox_access).toMatch(/SameSite=Lax/);
      expect(cookies.webox_refresh).toMatch(/HttpOnly/);
      expect(cookies.webox_refresh).toMatch(/SameSite=Strict/);
      expect(cookies.webox_refresh).toMatch(/Path=\/api\/auth/);
      expect(cookies.webox_csrf).not.toMatch(/HttpOnly/);
      const cookie = `webox_access=${cookieValue(cookies.webox_access)}`;

      const me = await app().inject({ url: '/api/account', headers: { cookie } });
      expect(me.statusCode).toBe(200);
      expect(me.json().user.email).toBe(client.email);

      const noCsrf = await app().inject({
        method: 'POST',
        url: '/api/account/sessions/revoke-others',
        headers: { cookie },
      });
      expect(noCsrf.statusCode).toBe(403);
      expect(noCsrf.json().error.code).toBe('csrf_invalid');
      const forgedCsrf = await app().inject({
        method: 'POST',
        url: '/api/account/sessions/revoke-others',
        headers: { cookie, 'x-csrf-token': 'x'.repeat(43) },
      });
      expect(forgedCsrf.statusCode).toBe(403);
      const withCsrf = await app().inject({
        method: 'POST',
        url: '/api/account/sessions/revoke-others',
        headers: { cookie, 'x-csrf-token': cookieValue(cookies.webox_csrf) },
      });
      expect(withCsrf.statusCode).toBe(200);
      expect(withCsrf.json().revoked).toBe(1);
    });

    it('rotates refresh tokens, and a reused one ends the whole session', async () => {
      const client = await signUpAndSignIn(app());
      const first = await app().inject({
        method: 'POST',
        url: '/api/auth/refresh',
        remoteAddress: client.ip,
        payload: { refreshToken: client.refreshToken, tokenDelivery: 'body' },
      });
      expect(first.statusCode).toBe(200);
      const rotated = first.json().tokens;
      expect(rotated.refreshToken).not.toBe(client.refreshToken);
      expect(first.json().session.id).toBe(client.sessionId);

      const replay = await app().inject({
        method: 'POST',
        url: '/api/auth/refresh',
        remoteAddress: client.ip,
        payload: { refreshToken: client.refreshToken, tokenDelivery: 'body' },
      });
      expect(replay.statusCode).toBe(401);
      // The thief's replay also ends the legitimate holder's tokens of that family.
      const next = await app().inject({
        method: 'POST',
        url: '/api/auth/refresh',
        remoteAddress: client.ip,
        payload: { refreshToken: rotated.refreshToken, tokenDelivery: 'body' },
      });
      expect(next.statusCode).toBe(401);
      const me = await app().inject({
        url: '/api/account',
        headers: { authorization: `Bearer ${rotated.accessToken}` },
      });
      expect(me.statusCode).toBe(401);
      const activity = await signInWithPassword(app(), { email: client.email, password: client.password });
      const events = await app().inject({
        url: '/api/account/activity?types=session.',
        headers: activity.headers,
      });
      expect(events.json().events.map((event: { type: string }) => event.type)).toContain(
        'session.refresh_reused',
      );
    });

    it('lets only one of two concurrent refreshes with one token win', async () => {
      const client = await signUpAndSignIn(app());
      const results = await Promise.all(
        [1, 2].map(() =>
          app().inject({
            method: 'POST',
            url: '/api/auth/refresh',
            remoteAddress: client.ip,
            payload: { refreshToken: client.refreshToken, tokenDelivery: 'body' },
          }),
        ),
      );
      expect(results.filter((response) => response.statusCode === 200).length).toBeLessThanOrEqual(1);
    });

    it('lists sessions, revokes one, and never touches another account’s session', async () => {
      const alice = await signUpAndSignIn(app());
      const aliceLaptop = await signInWithPassword(app(), { email: alice.email, password: alice.password });
      const bob = await signUpAndSignIn(app());
      const list = await app().inject({ url: '/api/account/sessions', headers: alice.headers });
      expect(list.statusCode).toBe(200);
      expect(list.json().sessions).toHaveLength(2);
      expect(list.json().sessions.find((session: { current: boolean }) => session.current).id).toBe(
        alice.sessionId,
      );

      const guess = await app().inject({
        method: 'DELETE',
        url: `/api/account/sessions/${alice.sessionId}`,
        headers: bob.headers,
      });
      expect(guess.statusCode).toBe(404);
      expect((await app().inject({ url: '/api/account', headers: alice.headers })).statusCode).toBe(200);

      const revoke = await app().inject({
        method: 'DELETE',
        url: `/api/account/sessions/${aliceLaptop.sessionId}`,
        headers: alice.headers,
      });
      expect(revoke.statusCode).toBe(204);
      expect((await app().inject({ url: '/api/account', headers: aliceLaptop.headers })).statusCode).toBe(
        401,
      );
      const bad = await app().inject({
        method: 'DELETE',
        url: "/api/account/sessions/1' or '1'='1",
        headers: alice.headers,
      });
      expect(bad.statusCode).toBe(400);
    });

    it('signs out: the access token stops working at once', async () => {
      const client = await signUpAndSignIn(app());
      const out = await app().inject({ method: 'POST', url: '/api/auth/sign-out', headers: client.headers });
      expect(out.statusCode).toBe(204);
      expect((await app().inject({ url: '/api/account', headers: client.headers })).statusCode).toBe(401);
    });

    it('gives one answer for an unknown address and a wrong password, then slows down and locks', async () => {
      const client = await signUpAndSignIn(app());
      const wrong = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email: client.email, password: 'not the password at all' },
      });
      const unknown = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email: uniqueEmail('ghost'), password: 'not the password at all' },
      });
      expect(wrong.statusCode).toBe(401);
      expect(unknown.statusCode).toBe(401);
      expect(wrong.json()).toEqual(unknown.json());

      for (let attempt = 0; attempt < 2; attempt++) {
        await app().inject({
          method: 'POST',
          url: '/api/auth/sign-in',
          remoteAddress: randomIp(),
          payload: { email: client.email, password: 'not the password at all' },
        });
      }
      // Three failures: the next try, even with the right password, has to wait.
      const slowed = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email: client.email, password: client.password },
      });
      expect(slowed.statusCode).toBe(429);
      expect(Number(slowed.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });

    it('rate-limits sign-in attempts per client IP with 429 and Retry-After', async () => {
      const ip = randomIp();
      const responses = [];
      for (let attempt = 0; attempt < 12; attempt++) {
        responses.push(
          await app().inject({
            method: 'POST',
            url: '/api/auth/sign-in',
            remoteAddress: ip,
            payload: { email: uniqueEmail('spray'), password: 'whatever password 1' },
          }),
        );
      }
      expect(responses.slice(0, 10).every((response) => response.statusCode === 401)).toBe(true);
      expect(responses[10]!.statusCode).toBe(429);
      expect(Number(responses[10]!.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('resets a password without revealing who has an account, once, within the hour', async () => {
      const client = await signUpAndSignIn(app());
      const known = await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email: client.email },
      });
      const ghost = uniqueEmail('nobody');
      const unknown = await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email: ghost },
      });
      expect(known.statusCode).toBe(202);
      expect(known.json()).toEqual(unknown.json());
      const mail = await waitForEmail(app(), { to: client.email, template: 'reset_password' });
      const token = tokenFromEmail(mail.text, '/reset-password');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(
        await harness.database.db.select().from(emailOutbox).where(eq(emailOutbox.recipient, ghost)),
      ).toHaveLength(0);

      const weak = await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/confirm',
        remoteAddress: randomIp(),
        payload: { token, password: 'qwertyuiop' },
      });
      expect(weak.statusCode).toBe(400);
      const done = await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/confirm',
        remoteAddress: randomIp(),
        payload: { token, password: 'a brand new passphrase 9' },
      });
      expect(done.statusCode).toBe(200);
      expect((await app().inject({ url: '/api/account', headers: client.headers })).statusCode).toBe(401);
      const reuse = await app().inject({
        method: 'POST',
        url: '/api/auth/password-reset/confirm',
        remoteAddress: randomIp(),
        payload: { token, password: 'yet another passphrase 8' },
      });
      expect(reuse.statusCode).toBe(400);
      await signInWithPassword(app(), { email: client.email, password: 'a brand new passphrase 9' });
    });

    it('changes the password only with the current one, ending the other sessions', async () => {
      const client = await signUpAndSignIn(app());
      const other = await signInWithPassword(app(), { email: client.email, password: client.password });
      const refused = await app().inject({
        method: 'POST',
        url: '/api/account/password',
        headers: client.headers,
        payload: { currentPassword: 'wrong wrong wrong', newPassword: 'a new sturdy phrase 11' },
      });
      expect(refused.statusCode).toBe(401);
      const changed = await app().inject({
        method: 'POST',
        url: '/api/account/password',
        headers: client.headers,
        payload: { currentPassword: client.password, newPassword: 'a new sturdy phrase 11' },
      });
      expect(changed.statusCode).toBe(204);
      expect((await app().inject({ url: '/api/account', headers: client.headers })).statusCode).toBe(200);
      expect((await app().inject({ url: '/api/account', headers: other.headers })).statusCode).toBe(401);
      await waitForEmail(app(), { to: client.email, template: 'password_changed' });
    });

    it('changes the email only after the new address confirms it', async () => {
      const client = await signUpAndSignIn(app());
      const newEmail = uniqueEmail('moved');
      const requested = await app().inject({
        method: 'POST',
        url: '/api/account/email',
        headers: client.headers,
        payload: { password: client.password, newEmail },
      });
      expect(requested.statusCode).toBe(202);
      expect((await app().inject({ url: '/api/account', headers: client.headers })).json().user.email).toBe(
        client.email,
      );
      const mail = await waitForEmail(app(), { to: newEmail, template: 'change_email' });
      const confirmed = await app().inject({
        method: 'POST',
        url: '/api/auth/email-change/confirm',
        remoteAddress: randomIp(),
        payload: { token: tokenFromEmail(mail.text, '/confirm-email-change') },
      });
      expect(confirmed.statusCode).toBe(200);
      const me = (await app().inject({ url: '/api/account', headers: client.headers })).json().user;
      expect(me.email).toBe(newEmail);
      expect(me.emailVerified).toBe(true);
      await waitForEmail(app(), { to: client.email, template: 'email_changed' });
    });

    it('answers an email change to a taken address exactly like a free one; only the mailbox owner could confirm', async () => {
      const client = await signUpAndSignIn(app());
      const taken = await signUpAndSignIn(app());
      const ask = (newEmail: string) =>
        app().inject({
          method: 'POST',
          url: '/api/account/email',
          headers: client.headers,
          remoteAddress: randomIp(),
          payload: { password: client.password, newEmail },
        });
      // A new request replaces the pending one, so the free address goes first.
      const toFree = await ask(uniqueEmail('free'));
      const toTaken = await ask(taken.email);
      expect(toTaken.statusCode).toBe(202);
      expect(toTaken.json()).toEqual(toFree.json());
      // The link reaches the owner of the taken address, who is the only one who could use it, and it fails there.
      const mail = await waitForEmail(app(), { to: taken.email, template: 'change_email' });
      const confirmed = await app().inject({
        method: 'POST',
        url: '/api/auth/email-change/confirm',
        remoteAddress: randomIp(),
        payload: { token: tokenFromEmail(mail.text, '/confirm-email-change') },
      });
      expect(confirmed.statusCode).toBe(409);
      expect((await app().inject({ url: '/api/account', headers: client.headers })).json().user.email).toBe(
        client.email,
      );
    });

    it('does the same work for a known and an unknown address (sign-in, sign-up, reset), so its timing tells nothing', async () => {
      // Timing these on a loaded machine measures the machine; what would make the known side slower is the work the
      // request itself does: argon2 (a verification against a dummy hash of the same cost for an unknown address, a
      // hash on sign-up either way) and email (always sent from a job, never before answering). So that work is what is
      // compared, with the job queue holding the jobs the request hands over.
      const workOf = async (url: string, email: string, payload: Record<string, string>) => {
        const jobs: string[] = [];
        const enqueue = vi.spyOn(harness.stores.jobs, 'enqueue').mockImplementation(async (name) => {
          jobs.push(name);
          return 'held';
        });
        const send = vi.spyOn(app().mailer, 'send');
        argon2Runs.length = 0;
        try {
          const response = await app().inject({ method: 'POST', url, remoteAddress: randomIp(), payload });
          return {
            status: response.statusCode,
            body: response.json(),
            argon2: [...argon2Runs],
            jobs,
            emailsSent: send.mock.calls.filter(([options]) => options.to === email).length,
          };
        } finally {
          enqueue.mockRestore();
          send.mockRestore();
        }
      };
      const compare = async (url: string, payloadFor: (email: string) => Record<string, string>) => {
        const known = (await signUpAndSignIn(app())).email;
        const unknown = uniqueEmail('nobody');
        const work = {
          known: await workOf(url, known, payloadFor(known)),
          unknown: await workOf(url, unknown, payloadFor(unknown)),
        };
        expect(work.unknown, url).toEqual(work.known);
        return work.known;
      };
      const [stored] = await harness.database.db
        .select({ hash: users.passwordHash })
        .from(users)
        .where(eq(users.email, (await signUpAndSignIn(app())).email));
      // The cost of every account's password hash, e.g. m=19456,t=2,p=1.
      const cost = stored!.hash!.split('$')[3];
      expect(cost).toMatch(/^m=\d+,t=\d+,p=\d+$/);
      // No warm-up: the app made its dummy hash when it became ready, so even the first unknown address costs the same.

      expect(
        await compare('/api/auth/sign-in', (email) => ({ email, password: 'a wrong but long password' })),
      ).toMatchObject({ status: 401, argon2: [`verify ${cost}`], jobs: [], emailsSent: 0 });
      expect(
        await compare('/api/auth/sign-up', (email) => ({ email, password: 'some sturdy passphrase 5' })),
      ).toMatchObject({ status: 202, argon2: [`hash ${cost}`], jobs: [SIGN_UP_MAIL_JOB], emailsSent: 0 });
      expect(await compare('/api/auth/password-reset/request', (email) => ({ email }))).toMatchObject({
        status: 202,
        argon2: [],
        jobs: [PASSWORD_RESET_JOB],
        emailsSent: 0,
      });
    });

    it('never writes passwords or tokens into log lines', async () => {
      const password = `log-secret-${createHash('sha1').update(String(Math.random())).digest('hex')}`;
      const client = await signUpAndSignIn(app(), { password });
      await app().inject({
        method: 'POST',
        url: '/api/auth/refresh',
        remoteAddress: client.ip,
        payload: { refreshToken: client.refreshToken, tokenDelivery: 'body' },
      });
      const text = logLines.join('\n');
      expect(text).not.toContain(password);
      expect(text).not.toContain(client.refreshToken);
      expect(text).not.toContain(client.accessToken);
    });
  });
}
