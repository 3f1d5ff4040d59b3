import { generateKeyPairSync, hkdfSync } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { exportJWK, SignJWT } from 'jose';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { emailOutbox } from '../notifications/tables.js';
import { enableTwoFactor, randomIp, signInWithPassword, signUpAndSignIn, waitForEmail } from './testing.js';

const AUTH_SECRET = 'test-secret-that-is-long-enough-for-hs256-keys';
const accessKey = Buffer.from(hkdfSync('sha256', AUTH_SECRET, 'webox', 'webox:access-token', 32));

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

for (const pair of backendPairs()) {
  describe(`access tokens and two-factor on ${pair.name}`, () => {
    let harness: TestApp;
    // The server checks TOTP codes at this instant, the one the tests compute them for: a code stays in its 30-second
    // step however long a loaded machine takes between computing it and the server checking it. Tests move it.
    let clock = Date.now();
    const totp = (secret: string, laterSeconds = 0) =>
      generate({ secret, epoch: Math.floor(clock / 1000) + laterSeconds });
    beforeAll(async () => {
      harness = await createTestApp(pair, { AUTH_SECRET }, { now: () => clock });
    });
    afterAll(() => harness.close());
    const app = () => harness.app;
    const me = (token: string) =>
      app().inject({ url: '/api/account', headers: { authorization: `Bearer ${token}` } });

    it('accepts its own token and refuses forged, expired, alg:none and algorithm-confused ones', async () => {
      const client = await signUpAndSignIn(app());
      expect((await me(client.accessToken)).statusCode).toBe(200);
      const claims = { sid: client.sessionId, sub: client.userId, iss: 'webox', aud: 'webox:api' };
      const now = Math.floor(Date.now() / 1000);

      const none = `${base64url({ alg: 'none', typ: 'at+jwt' })}.${base64url({ ...claims, iat: now, exp: now + 600 })}.`;
      const wrongKey = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode('another-secret-another-secret-another-secret'));
      const expired = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuedAt(now - 3600)
        .setExpirationTime(now - 1800)
        .sign(accessKey);
      const tooLong = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuedAt(now - 3600)
        .setExpirationTime(now + 3600)
        .sign(accessKey);
      const otherAlgorithm = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS512', typ: 'at+jwt' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(Buffer.concat([accessKey, accessKey]));
      // Algorithm confusion: an asymmetric token carrying its own public key must not be trusted.
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const embedded = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', jwk: await exportJWK(publicKey) })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
      const wrongType = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(accessKey);
      const wrongAudience = await new SignJWT({ ...claims, aud: 'webox:two-factor' })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(accessKey);
      const [header, payload, signature] = client.accessToken.split('.');
      const tampered = `${header}.${base64url({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: '00000000-0000-4000-8000-000000000000' })}.${signature}`;

      for (const token of [
        none,
        wrongKey,
        expired,
        tooLong,
        otherAlgorithm,
        embedded,
        wrongType,
        wrongAudience,
        tampered,
        'garbage',
        'a.b.c',
      ]) {
        const response = await me(token);
        expect(response.statusCode).toBe(401);
        expect(response.json().error.code).toBe('unauthenticated');
      }
      // A correctly signed token for a session that does not exist is refused too.
      const ghostSession = await new SignJWT({ ...claims, sid: '00000000-0000-4000-8000-000000000000' })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(accessKey);
      expect((await me(ghostSession)).statusCode).toBe(401);
    });

    it('refuses virtual keys on account routes (they are for /v1) and unknown ones everywhere', async () => {
      const response = await me('wbx_0123456789abcdef');
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('unauthenticated');
    });

    it('slows down guessing of the second step per account: new challenges and new IPs do not reset it', async () => {
      const client = await signUpAndSignIn(app());
      const { secret } = await enableTwoFactor(app(), client);
      const challenge = async () => {
        const first = await app().inject({
          method: 'POST',
          url: '/api/auth/sign-in',
          remoteAddress: randomIp(),
          payload: { email: client.email, password: client.password, tokenDelivery: 'body' },
        });
        expect(first.json().status).toBe('two_factor_required');
        return first.json().challengeToken as string;
      };
      const answer = (challengeToken: string, code: string) =>
        app().inject({
          method: 'POST',
          url: '/api/auth/sign-in/two-factor',
          remoteAddress: randomIp(),
          payload: { challengeToken, code, tokenDelivery: 'body' },
        });
      for (const guess of ['111111', '222222', '333333']) {
        const wrong = await answer(await challenge(), guess);
        expect(wrong.statusCode).toBe(401);
        expect(wrong.json().error.code).toBe('two_factor_invalid');
      }
      // Even the right code waits now, from a new challenge and a new address: the next step's, as the enrolment
      // spent this one's.
      const right = await totp(secret, 30);
      const slowed = await answer(await challenge(), right);
      expect(slowed.statusCode).toBe(429);
      expect(Number(slowed.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });

    it('enrols TOTP with a QR code, asks for it at sign-in, accepts a backup code once, and turns off with password + code', async () => {
      const client = await signUpAndSignIn(app());
      const setup = await app().inject({
        method: 'POST',
        url: '/api/account/two-factor/setup',
        headers: client.headers,
      });
      expect(setup.statusCode).toBe(200);
      const { secret, otpauthUrl, qrCode } = setup.json();
      expect(otpauthUrl).toMatch(/^otpauth:\/\/totp\/WeBox:/);
      expect(qrCode).toMatch(/^data:image\/png;base64,/);

      const wrong = await app().inject({
        method: 'POST',
        url: '/api/account/two-factor/enable',
        headers: client.headers,
        payload: { code: '000000', password: client.password },
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().error.code).toBe('two_factor_invalid');
      const enable = await app().inject({
        method: 'POST',
        url: '/api/account/two-factor/enable',
        headers: client.headers,
        payload: { code: await totp(secret), password: client.password },
      });
      expect(enable.statusCode).toBe(200);
      const backupCodes: string[] = enable.json().backupCodes;
      expect(backupCodes).toHaveLength(10);
      expect(new Set(backupCodes).size).toBe(10);
      await waitForEmail(app(), { to: client.email, template: 'two_factor_changed' });

      const ip = randomIp();
      const first = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: ip,
        payload: { email: client.email, password: client.password, tokenDelivery: 'body' },
      });
      expect(first.json().status).toBe('two_factor_required');
      const challengeToken = first.json().challengeToken;
      // The challenge is not an access token.
      expect((await me(challengeToken)).statusCode).toBe(401);
      // The code used at enrolment cannot be replayed within its window.
      const replayed = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: ip,
        payload: { challengeToken, code: await totp(secret), tokenDelivery: 'body' },
      });
      expect(replayed.statusCode).toBe(401);
      expect(replayed.json().error.code).toBe('two_factor_invalid');
      const withBackup = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: ip,
        payload: { challengeToken, code: backupCodes[0]!.toUpperCase(), tokenDelivery: 'body' },
      });
      expect(withBackup.statusCode).toBe(200);
      // A used backup code is refused, also with a new challenge (the first one opened its session already).
      const next = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: ip,
        payload: { email: client.email, password: client.password, tokenDelivery: 'body' },
      });
      const again = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: ip,
        payload: { challengeToken: next.json().challengeToken, code: backupCodes[0], tokenDelivery: 'body' },
      });
      expect(again.statusCode).toBe(401);
      expect(again.json().error.code).toBe('two_factor_invalid');
      // Thirty seconds on, the authenticator shows a new code, and that one opens the session.
      clock += 30_000;
      const nextStep = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in/two-factor',
        remoteAddress: ip,
        payload: {
          challengeToken: next.json().challengeToken,
          code: await totp(secret),
          tokenDelivery: 'body',
        },
      });
      expect(nextStep.statusCode).toBe(200);
      const headers = { authorization: `Bearer ${withBackup.json().tokens.accessToken}` };
      const status = await app().inject({ url: '/api/account/two-factor', headers });
      expect(status.json()).toMatchObject({ enabled: true, backupCodesLeft: 9 });

      const noPassword = await app().inject({
        method: 'POST',
        url: '/api/account/two-factor/disable',
        headers,
        payload: { password: 'not my password', code: backupCodes[1] },
      });
      expect(noPassword.statusCode).toBe(401);
      const disabled = await app().inject({
        method: 'POST',
        url: '/api/account/two-factor/disable',
        headers,
        payload: { password: client.password, code: backupCodes[1] },
      });
      expect(disabled.statusCode).toBe(204);
      const plain = await signInWithPassword(app(), { email: client.email, password: client.password });
      const journal = await app().inject({
        url: '/api/account/activity?types=two_factor.',
        headers: plain.headers,
      });
      expect(journal.json().events.map((event: { type: string }) => event.type)).toEqual(
        expect.arrayContaining(['two_factor.enabled', 'two_factor.disabled', 'two_factor.backup_code_used']),
      );
    });

    it('tells the owner by email, in their language, when new backup codes replace the old ones, without any code', async () => {
      const client = await signUpAndSignIn(app());
      const french = await app().inject({
        method: 'PATCH',
        url: '/api/account/profile',
        headers: client.headers,
        payload: { locale: 'fr' },
      });
      expect(french.statusCode).toBe(200);
      const { backupCodes: oldCodes } = await enableTwoFactor(app(), client);
      const regenerate = (code: string) =>
        app().inject({
          method: 'POST',
          url: '/api/account/two-factor/backup-codes',
          headers: client.headers,
          remoteAddress: client.ip,
          payload: { code },
        });
      const notices = async () =>
        (await app().db.select().from(emailOutbox).where(eq(emailOutbox.recipient, client.email))).filter(
          (row) => row.template === 'backup_codes_regenerated',
        );

      // A refused code changes nothing, so there is nothing to tell.
      const wrong = await regenerate('00000-00000');
      expect(wrong.statusCode).toBe(401);
      expect(await notices()).toHaveLength(0);

      const before = new Date();
      const renewed = await regenerate(oldCodes[0]!);
      expect(renewed.statusCode).toBe(200);
      const newCodes: string[] = renewed.json().backupCodes;
      expect(newCodes).toHaveLength(10);
      const mail = await waitForEmail(app(), {
        to: client.email,
        template: 'backup_codes_regenerated',
        after: before,
      });
      expect(mail.locale).toBe('fr');
      expect(mail.subject).toMatch(/codes de secours/i);
      expect(mail.text).toMatch(/Si ce n'était pas vous/);
      // Whoever reads the mailbox (or the outbox, or a locked phone's preview) learns no code, new or old, in any spelling.
      const written = [mail.subject, mail.text ?? '', mail.html ?? ''].join('\n').toLowerCase();
      for (const code of [...newCodes, ...oldCodes]) {
        expect(written).not.toContain(code.toLowerCase());
        expect(written).not.toContain(code.replace('-', '').toLowerCase());
      }
      expect(await notices()).toHaveLength(1);
    });
  });
}
