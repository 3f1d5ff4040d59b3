import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
      expect(preflight.headers['access-control-allow-origin']).toBe(origin);
      expect(preflight.headers['access-control-allow-credentials']).toBe('true');
    }
    const evil = await harness.app.inject({
      url: '/api/account',
      headers: { origin: 'https://evil.example' },
    });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });
});
