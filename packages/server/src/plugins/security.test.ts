import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignedInAccount } from '../modules/accounts/testing.js';
import { databaseBackends, storeBackends } from '../testing/backends.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';

describe('security headers and CORS', () => {
  let harness: TestApp;
  beforeAll(async () => {
    harness = await createTestApp(
      { database: databaseBackends()[0]!, stores: storeBackends()[0]! },
      { PUBLIC_URL: 'https://webox.example', CORS_ORIGINS: 'https://partner.example, http://localhost:5173' },
    );
  });
  afterAll(() => harness.close());

  it('sends a content security policy and the usual hardening headers', async () => {
    const response = await harness.app.inject({ url: '/health' });
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(response.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
    expect(response.headers['strict-transport-security']).toContain('max-age=31536000');
  });

  it('answers /v1 (JSON and event streams for programs) with nosniff and without the document policies', async () => {
    const response = await harness.app.inject({ url: '/v1/models' });
    expect(response.headers['content-type']).toContain('application/json');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toBeUndefined();
    // /v1 is not a prefix match on /v1something: such a path still gets the full set.
    const other = await harness.app.inject({ url: '/v1x' });
    expect(String(other.headers['content-security-policy'])).toContain("default-src 'self'");
  });

  it('keeps swagger-ui working under its own policy', async () => {
    const docs = await harness.app.inject({ url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(String(docs.headers['content-security-policy'])).toContain('validator.swagger.io');
  });

  it('allows listed origins with credentials and ignores the rest', async () => {
    for (const origin of ['https://webox.example', 'https://partner.example', 'http://localhost:5173']) {
      const preflight = await harness.app.inject({
        method: 'OPTIONS',
        url: '/api/account',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'x-csrf-token',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(origin);
      expect(preflight.headers['access-control-allow-credentials']).toBe('true');
      expect(preflight.headers['access-control-allow-methods']).toContain('PATCH');
      expect(preflight.headers['access-control-allow-headers']).toBe('x-csrf-token');
      expect(preflight.headers['access-control-max-age']).toBe('600');
    }
    const evil = await harness.app.inject({
      url: '/api/account',
      headers: { origin: 'https://evil.example' },
    });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers['access-control-allow-credentials']).toBeUndefined();
    expect(evil.headers.vary).toBe('Origin');
    const evilPreflight = await harness.app.inject({
      method: 'OPTIONS',
      url: '/v1/chat/completions',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(evilPreflight.statusCode).toBe(404);
    expect(evilPreflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it("lets an allowed page call /v1 with a browser SDK's own headers and read what the call cost", async () => {
    const preflight = await harness.app.inject({
      method: 'OPTIONS',
      url: '/v1/chat/completions',
      headers: {
        origin: 'https://partner.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers':
          'authorization,content-type,x-stainless-os, x-stainless-retry-count',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toBe(
      'authorization,content-type,x-stainless-os, x-stainless-retry-count',
    );
    expect(preflight.headers.vary).toBe('Origin, Access-Control-Request-Headers');

    const call = await harness.app.inject({
      url: '/v1/models',
      headers: { origin: 'https://partner.example' },
    });
    expect(call.headers['access-control-allow-origin']).toBe('https://partner.example');
    const exposed = String(call.headers['access-control-expose-headers']).split(', ');
    expect(exposed).toEqual(
      expect.arrayContaining(['x-request-id', 'retry-after', 'x-should-retry', 'x-webox-credits-charged']),
    );
  });

  it('gives a call without Origin (an SDK, a server) no CORS headers, only Vary: Origin', async () => {
    for (const request of [
      { url: '/v1/models' },
      { url: '/health' },
      {
        method: 'OPTIONS' as const,
        url: '/api/account',
        headers: { 'access-control-request-method': 'POST' },
      },
    ]) {
      const response = await harness.app.inject(request);
      expect(response.headers.vary).toBe('Origin');
      expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    }
  });

  it('refuses NUL characters anywhere in /api input with 400, before they reach the database', async () => {
    const client = await createSignedInAccount(harness.app);
    const cases = [
      { url: '/api/studio/conversations?q=a%00b', path: 'querystring.q' },
      { url: '/api/admin/users?q=%00', path: 'querystring.q' },
      {
        method: 'PATCH' as const,
        url: '/api/account/profile',
        payload: { name: 'a\u0000b' },
        path: 'body.name',
      },
      {
        method: 'PUT' as const,
        url: '/api/account/provider-keys/openai',
        payload: { key: 'sk-test-1234567890', label: { nested: ['x\u0000'] } },
        path: 'body.label.nested.0',
      },
      { url: '/api/account/avatar/a%00b', path: 'params.key' },
    ];
    for (const { path, ...request } of cases) {
      const response = await harness.app.inject({ ...request, headers: client.headers });
      expect(response.statusCode, request.url).toBe(400);
      expect(response.json().error.details).toEqual([{ path, message: 'must not contain NUL characters' }]);
    }
  });

  it('answers 400 to JSON nested a hundred thousand levels deep, without overflowing the stack', async () => {
    const client = await createSignedInAccount(harness.app);
    const response = await harness.app.inject({
      method: 'PATCH',
      url: '/api/account/profile',
      headers: { ...client.headers, 'content-type': 'application/json' },
      payload: `{"name":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
    });
    expect(response.statusCode).toBe(400);
  });
});
