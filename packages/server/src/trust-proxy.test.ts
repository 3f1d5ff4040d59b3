import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpAndSignIn, uniqueEmail } from './modules/accounts/testing.js';
import { backendPairs } from './testing/backend-pairs.js';
import { createTestApp, type TestApp } from './testing/test-app.js';

const PROXY = '10.9.9.9';

for (const pair of backendPairs()) {
  // One proxy in front, named by its address or by its network.
  for (const setting of [PROXY, '10.0.0.0/8']) {
    describe(`TRUST_PROXY=${setting} on ${pair.name}`, () => {
      let harness: TestApp;
      beforeAll(async () => {
        harness = await createTestApp(pair, { TRUST_PROXY: setting });
      });
      afterAll(() => harness.close());

      async function sessionIp(remoteAddress: string, forwardedFor: string) {
        const person = await signUpAndSignIn(harness.app);
        const signedIn = await harness.app.inject({
          method: 'POST',
          url: '/api/auth/sign-in',
          remoteAddress,
          headers: { 'x-forwarded-for': forwardedFor },
          payload: { email: person.email, password: person.password, tokenDelivery: 'body' },
        });
        expect(signedIn.statusCode).toBe(200);
        const { sessions } = (
          await harness.app.inject({
            url: '/api/account/sessions',
            headers: { authorization: `Bearer ${signedIn.json().tokens.accessToken}` },
          })
        ).json();
        return sessions.find((session: { id: string }) => session.id === signedIn.json().session.id).ip;
      }

      it('takes the address the trusted proxy saw, not one the client wrote in X-Forwarded-For', async () => {
        expect(await sessionIp(PROXY, '6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
      });

      it('ignores X-Forwarded-For from a client that reaches the server without the proxy', async () => {
        expect(await sessionIp('198.51.100.7', '203.0.113.9')).toBe('198.51.100.7');
      });

      it('keeps a client behind the proxy to its per-IP limit whatever it forges', async () => {
        const statuses: number[] = [];
        for (let attempt = 0; attempt < 12; attempt += 1) {
          const response = await harness.app.inject({
            method: 'POST',
            url: '/api/auth/sign-in',
            remoteAddress: PROXY,
            headers: { 'x-forwarded-for': `198.18.0.${attempt}, 203.0.113.77` },
            payload: { email: uniqueEmail('nobody'), password: 'not the password 1', tokenDelivery: 'body' },
          });
          statuses.push(response.statusCode);
        }
        expect(statuses.slice(0, 10).every((status) => status === 401)).toBe(true);
        expect(statuses.slice(10)).toEqual([429, 429]);
      });
    });
  }
}
