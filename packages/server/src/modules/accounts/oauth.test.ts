import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { oauthAccounts, users } from './tables.js';
import { randomIp, signInWithPassword, signUpAndSignIn, uniqueEmail } from './testing.js';

interface IdpUser {
  sub: string;
  email: string;
  emailVerified: boolean;
  name: string;
}

/**
 * A local identity provider speaking OpenID Connect (discovery, authorize, token with PKCE, JWKS) and GitHub's OAuth
 * flavour (authorize, access_token, /user, /user/emails). The "person at the browser" is whoever `nextUser` names.
 */
async function startIdentityProvider(clients: Record<string, string>) {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const codes = new Map<
    string,
    { user: IdpUser; challenge: string; redirectUri: string; nonce: string; clientId: string }
  >();
  const accessTokens = new Map<string, IdpUser>();
  const state = { nextUser: undefined as IdpUser | undefined, tokenRequests: 0 };
  let base = '';

  const readBody = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  };

  const server: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', base);
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        jwks_uri: `${base}/jwks`,
      });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/authorize' || url.pathname === '/login/oauth/authorize') {
      const clientId = url.searchParams.get('client_id') ?? '';
      if (!clients[clientId] || url.searchParams.get('code_challenge_method') !== 'S256' || !state.nextUser) {
        return json(400, { error: 'invalid_request' });
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, {
        user: state.nextUser,
        challenge: url.searchParams.get('code_challenge') ?? '',
        redirectUri: url.searchParams.get('redirect_uri') ?? '',
        nonce: url.searchParams.get('nonce') ?? '',
        clientId,
      });
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      response.writeHead(302, { location: back.toString() });
      return response.end();
    }
    if (
      request.method === 'POST' &&
      (url.pathname === '/token' || url.pathname === '/login/oauth/access_token')
    ) {
      state.tokenRequests += 1;
      const body = await readBody(request);
      const basic = Buffer.from(
        (request.headers.authorization ?? '').replace(/^Basic /, ''),
        'base64',
      ).toString();
      const [clientId, clientSecret] = basic.split(':').map(decodeURIComponent);
      const grant = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      const verifier = body.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (
        !grant ||
        !clientId ||
        clients[clientId] !== clientSecret ||
        grant.clientId !== clientId ||
        grant.challenge !== challenge ||
        grant.redirectUri !== body.get('redirect_uri')
      ) {
        return json(400, { error: 'invalid_grant' });
      }
      const accessToken = randomBytes(16).toString('hex');
      accessTokens.set(accessToken, grant.user);
      const idToken = await new SignJWT({
        email: grant.user.email,
        email_verified: grant.user.emailVerified,
        name: grant.user.name,
        nonce: grant.nonce,
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .setIssuer(base)
        .setAudience(clientId)
        .setSubject(grant.user.sub)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      return json(200, {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: 3600,
        id_token: idToken,
        scope: 'openid email',
      });
    }
    const user = accessTokens.get((request.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (url.pathname === '/user') {
      return user
        ? json(200, { id: Number(user.sub), login: user.name.toLowerCase(), name: user.name })
        : json(401, {});
    }
    if (url.pathname === '/user/emails') {
      return user
        ? json(200, [
            { email: `noreply-${user.sub}@users.noreply.example`, primary: false, verified: true },
            { email: user.email, primary: true, verified: user.emailVerified },
          ])
        : json(401, {});
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: () => base,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const pair of backendPairs()) {
  describe(`OAuth sign-in against a local identity provider on ${pair.name}`, () => {
    let harness: TestApp;
    let idp: Awaited<ReturnType<typeof startIdentityProvider>>;
    beforeAll(async () => {
      idp = await startIdentityProvider({
        'google-client': 'google-secret',
        'github-client': 'github-secret',
      });
      harness = await createTestApp(pair, {
        PUBLIC_URL: 'https://webox.example',
        GOOGLE_CLIENT_ID: 'google-client',
        GOOGLE_CLIENT_SECRET: 'google-secret',
        GOOGLE_ISSUER: idp.url(),
        GITHUB_CLIENT_ID: 'github-client',
        GITHUB_CLIENT_SECRET: 'github-secret',
        GITHUB_URL: idp.url(),
        GITHUB_API_URL: idp.url(),
      });
    });
    afterAll(async () => {
      await harness.close();
      await idp.close();
    });
    const app = () => harness.app;

    /** Plays the browser: start, follow the provider's redirect, come back to the callback with the state cookie. */
    async function browserSignIn(provider: 'google' | 'github', user: IdpUser, redirect = '/studio') {
      idp.state.nextUser = user;
      const ip = randomIp();
      const start = await app().inject({
        url: `/api/auth/oauth/${provider}/start?redirect=${encodeURIComponent(redirect)}`,
        remoteAddress: ip,
      });
      expect(start.statusCode).toBe(302);
      const stateCookie = String(start.headers['set-cookie']).split(';')[0]!;
      const atProvider = await fetch(String(start.headers.location), { redirect: 'manual' });
      expect(atProvider.status).toBe(302);
      const callback = new URL(atProvider.headers.get('location')!);
      expect(callback.origin).toBe('https://webox.example');
      return app().inject({
        url: `${callback.pathname}${callback.search}`,
        headers: { cookie: stateCookie },
        remoteAddress: ip,
      });
    }

    function accessCookie(response: { headers: Record<string, unknown> }) {
      const cookies = ([] as string[]).concat(
        (response.headers['set-cookie'] as string[] | string | undefined) ?? [],
      );
      return cookies.find((line) => line.startsWith('webox_access='))?.split(';')[0];
    }

    it('lists the configured providers', async () => {
      expect((await app().inject({ url: '/api/auth/oauth/providers' })).json().providers).toEqual([
        'google',
        'github',
      ]);
    });

    it('creates an account from a verified Google identity and signs the browser in', async () => {
      const email = uniqueEmail('google');
      const response = await browserSignIn('google', {
        sub: 'g-1001',
        email,
        emailVerified: true,
        name: 'Lina',
      });
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe('/studio');
      const cookie = accessCookie(response);
      expect(cookie).toBeDefined();
      const me = await app().inject({ url: '/api/account', headers: { cookie: cookie! } });
      expect(me.json().user).toMatchObject({ email, name: 'Lina', emailVerified: true, hasPassword: false });
      // The second time, the link is used.
      const again = await browserSignIn('google', {
        sub: 'g-1001',
        email,
        emailVerified: true,
        name: 'Lina',
      });
      const meAgain = await app().inject({ url: '/api/account', headers: { cookie: accessCookie(again)! } });
      expect(meAgain.json().user.id).toBe(me.json().user.id);
    });

    it('refuses an identity whose email is not verified', async () => {
      const email = uniqueEmail('unverified');
      const response = await browserSignIn('google', {
        sub: 'g-2002',
        email,
        emailVerified: false,
        name: 'X',
      });
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe('/sign-in#error=oauth_refused');
      expect(accessCookie(response)).toBeUndefined();
      expect(await harness.database.db.select().from(users).where(eq(users.email, email))).toHaveLength(0);
    });

    it('links to an existing verified account through the verified email', async () => {
      const client = await signUpAndSignIn(app());
      const response = await browserSignIn('github', {
        sub: '3003',
        email: client.email,
        emailVerified: true,
        name: 'Octo',
      });
      const me = await app().inject({ url: '/api/account', headers: { cookie: accessCookie(response)! } });
      expect(me.json().user.id).toBe(client.userId);
      const links = await harness.database.db
        .select()
        .from(oauthAccounts)
        .where(eq(oauthAccounts.userId, client.userId));
      expect(links).toMatchObject([{ provider: 'github', providerUserId: '3003' }]);
      // The password still works: the address was already proven.
      await signInWithPassword(app(), { email: client.email, password: client.password });
    });

    it('takes over a pre-registered unverified account: the squatter’s password and sessions stop working', async () => {
      const victim = uniqueEmail('victim');
      const squatter = await signUpAndSignIn(app(), { email: victim, verify: false });
      const response = await browserSignIn('google', {
        sub: 'g-4004',
        email: victim,
        emailVerified: true,
        name: 'Victim',
      });
      expect(accessCookie(response)).toBeDefined();
      expect((await app().inject({ url: '/api/account', headers: squatter.headers })).statusCode).toBe(401);
      await expect(signInWithPassword(app(), { email: victim, password: squatter.password })).rejects.toThrow(
        /401/,
      );
    });

    it('refuses a callback with a forged state, no state cookie, or an open redirect', async () => {
      idp.state.nextUser = { sub: 'g-5005', email: uniqueEmail('csrf'), emailVerified: true, name: 'Y' };
      const start = await app().inject({ url: '/api/auth/oauth/google/start', remoteAddress: randomIp() });
      const atProvider = await fetch(String(start.headers.location), { redirect: 'manual' });
      const callback = new URL(atProvider.headers.get('location')!);
      const noCookie = await app().inject({
        url: `${callback.pathname}${callback.search}`,
        remoteAddress: randomIp(),
      });
      expect(noCookie.headers.location).toBe('/sign-in#error=oauth_failed');
      const forged = new URL(callback);
      forged.searchParams.set('state', 'forged-state');
      const stateCookie = String(start.headers['set-cookie']).split(';')[0]!;
      const wrongState = await app().inject({
        url: `${forged.pathname}${forged.search}`,
        headers: { cookie: stateCookie },
        remoteAddress: randomIp(),
      });
      expect(wrongState.headers.location).toBe('/sign-in#error=oauth_failed');
      const tamperedCookie = await app().inject({
        url: `${callback.pathname}${callback.search}`,
        headers: { cookie: `${stateCookie.slice(0, -3)}abc` },
        remoteAddress: randomIp(),
      });
      expect(tamperedCookie.headers.location).toBe('/sign-in#error=oauth_failed');
      for (const redirect of ['//evil.example', 'https://evil.example', '/\\evil.example']) {
        const open = await app().inject({
          url: `/api/auth/oauth/google/start?redirect=${encodeURIComponent(redirect)}`,
          remoteAddress: randomIp(),
        });
        expect(open.statusCode).toBe(400);
      }
    });
  });
}
