import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

// What nginx, Caddy or a load balancer add when they forward a request.
const forwardedBy = [
  { 'x-forwarded-for': '203.0.113.9' },
  { forwarded: 'for=203.0.113.9;proto=https' },
  { 'x-real-ip': '203.0.113.9' },
];

for (const pair of backendPairs()) {
  describe(`/metrics access on ${pair.name}`, () => {
    describe('with METRICS_TOKEN set', () => {
      let harness: TestApp;
      const token = `metrics-${Math.random().toString(36).slice(2)}-${Date.now()}`;
      beforeAll(async () => {
        harness = await createTestApp(pair, { METRICS_TOKEN: token });
      });
      afterAll(() => harness.close());

      it('refuses a request a proxy on this host forwarded, though its socket is loopback', async () => {
        for (const headers of forwardedBy) {
          const response = await harness.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1', headers });
          expect(response.statusCode).toBe(403);
          expect(response.json().error.code).toBe('forbidden');
          expect(response.body).not.toContain('process_resident_memory_bytes');
        }
      });

      it('requires the token from this host too, and takes it from anywhere', async () => {
        for (const remoteAddress of ['127.0.0.1', '::1']) {
          const bare = await harness.app.inject({ url: '/metrics', remoteAddress });
          expect(bare.statusCode).toBe(403);
          const wrong = await harness.app.inject({
            url: '/metrics',
            remoteAddress,
            headers: { authorization: `Bearer ${token}x` },
          });
          expect(wrong.statusCode).toBe(403);
        }
        for (const remoteAddress of ['127.0.0.1', '203.0.113.9']) {
          const allowed = await harness.app.inject({
            url: '/metrics',
            remoteAddress,
            headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '198.51.100.7' },
          });
          expect(allowed.statusCode).toBe(200);
          expect(allowed.body).toContain('process_resident_memory_bytes');
        }
      });
    });

    describe('without METRICS_TOKEN, behind a proxy this server trusts', () => {
      let harness: TestApp;
      beforeAll(async () => {
        harness = await createTestApp(pair, { TRUST_PROXY: '127.0.0.1' });
      });
      afterAll(() => harness.close());

      it('serves a direct scrape from this host only', async () => {
        const local = await harness.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' });
        expect(local.statusCode).toBe(200);
        expect(local.body).toContain('process_resident_memory_bytes');
        expect((await harness.app.inject({ url: '/metrics', remoteAddress: '203.0.113.9' })).statusCode).toBe(
          403,
        );
      });

      it('refuses a forwarded request, even one claiming to come from loopback', async () => {
        for (const headers of [...forwardedBy, { 'x-forwarded-for': '127.0.0.1' }]) {
          const response = await harness.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1', headers });
          expect(response.statusCode).toBe(403);
        }
      });
    });
  });
}
