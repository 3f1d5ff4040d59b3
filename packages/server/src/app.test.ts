import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureAdmin } from './modules/accounts/service.js';
import { backendPairs } from './testing/backend-pairs.js';
import { createTestApp, type TestApp } from './testing/test-app.js';

for (const pair of backendPairs()) {
  describe(`HTTP surface on ${pair.name}`, () => {
    let harness: TestApp;
    const logLines: string[] = [];
    const metricsToken = `metrics-${Math.random().toString(36).slice(2)}-${Date.now()}`;

    beforeAll(async () => {
      harness = await createTestApp(
        pair,
        { LOG_LEVEL: 'info', BODY_LIMIT: '2048', METRICS_TOKEN: metricsToken },
        {
          logStream: { write: (line) => logLines.push(line) },
          configure(app) {
            app.get('/api/test-failure', { schema: { hide: true } }, async () => {
              throw new Error('select password_hash from users where id = 1 -- internal detail');
            });
          },
        },
      );
    });
    afterAll(() => harness.close());

    const inject: TestApp['app']['inject'] = ((...args: Parameters<TestApp['app']['inject']>) =>
      harness.app.inject(...args)) as TestApp['app']['inject'];

    it('answers /health and /ready with every check passing', async () => {
      expect((await inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
      const ready = await inject({ url: '/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json().status).toBe('ready');
      expect(ready.json().checks.database.ok).toBe(true);
      expect(ready.json().checks.migrations.ok).toBe(true);
      if (pair.stores.name === 'redis') expect(ready.json().checks.redis.ok).toBe(true);
    });

    it('exposes Prometheus metrics including request durations by route pattern', async () => {
      await inject({ url: '/health' });
      const metrics = await inject({ url: '/metrics', headers: { authorization: `Bearer ${metricsToken}` } });
      expect(metrics.headers['content-type']).toContain('text/plain');
      expect(metrics.body).toMatch(
        /http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} \d+/,
      );
      expect(metrics.body).toContain('process_cpu_user_seconds_total');
    });

    it('shows metrics to another host only with the metrics token', async () => {
      const remoteAddress = '203.0.113.9';
      const refused = await inject({ url: '/metrics', remoteAddress });
      expect(refused.statusCode).toBe(403);
      expect(refused.body).not.toContain('process_cpu');
      const wrong = await inject({
        url: '/metrics',
        remoteAddress,
        headers: { authorization: 'Bearer nope' },
      });
      expect(wrong.statusCode).toBe(403);
      const allowed = await inject({
        url: '/metrics',
        remoteAddress,
        headers: { authorization: `Bearer ${metricsToken}` },
      });
      expect(allowed.statusCode).toBe(200);
      expect(allowed.body).toContain('process_cpu_user_seconds_total');
    });

    it('publishes an OpenAPI 3.1 document and an interactive reference', async () => {
      const document = (await inject({ url: '/openapi.json' })).json();
      expect(document.openapi).toBe('3.1.0');
      expect(document.paths['/api/setup'].post.requestBody).toBeDefined();
      expect(document.paths['/health']).toBeDefined();
      const docs = await inject({ url: '/docs/' });
      expect(docs.statusCode).toBe(200);
      expect(docs.body).toContain('swagger-ui');
    });

    it('gives unknown routes the documented 404 shape: ours on /api, OpenAI on /v1', async () => {
      const api = await inject({ url: '/api/does-not-exist' });
      expect(api.statusCode).toBe(404);
      expect(api.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
      const v1 = await inject({ method: 'POST', url: '/v1/does-not-exist', payload: {} });
      expect(v1.statusCode).toBe(404);
      expect(v1.json()).toEqual({
        error: { type: 'invalid_request_error', code: 'not_found', message: expect.any(String), param: null },
      });
    });

    it('refuses malformed JSON, oversize bodies and wrong content types, and keeps serving', async () => {
      const malformed = await inject({
        method: 'POST',
        url: '/api/setup',
        headers: { 'content-type': 'application/json' },
        payload: '{"token": "abc",',
      });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.code).toBe('invalid_json');

      const oversize = await inject({
        method: 'POST',
        url: '/api/setup',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ token: 'x'.repeat(4096) }),
      });
      expect(oversize.statusCode).toBe(413);
      expect(oversize.json().error.code).toBe('payload_too_large');

      const wrongType = await inject({
        method: 'POST',
        url: '/api/setup',
        headers: { 'content-type': 'application/xml' },
        payload: '<token/>',
      });
      expect(wrongType.statusCode).toBe(415);
      expect(wrongType.json().error.code).toBe('unsupported_media_type');

      expect((await inject({ url: '/health' })).statusCode).toBe(200);
    });

    it('hides the details of internal failures from the client and logs them with the request id', async () => {
      const response = await inject({ url: '/api/test-failure', headers: { 'x-request-id': 'trace-123' } });
      expect(response.statusCode).toBe(500);
      expect(response.headers['x-request-id']).toBe('trace-123');
      expect(response.json().error.code).toBe('internal_error');
      expect(response.body).not.toMatch(/password_hash|select|at .*\.ts/);
      const logged = logLines
        .map((line) => JSON.parse(line))
        .find((entry) => entry.requestId === 'trace-123' && entry.err);
      expect(logged?.err.message).toContain('internal detail');
    });

    it('replaces an unsafe incoming request id instead of echoing it', async () => {
      const response = await inject({ url: '/health', headers: { 'x-request-id': 'bad id\r\ninjected' } });
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('keeps credentials out of log lines: headers, bodies and secret query parameters', async () => {
      const secret = `test-secret-${Math.random().toString(36).slice(2)}`;
      await inject({
        method: 'POST',
        url: `/api/setup?token=${secret}`,
        headers: { authorization: `Bearer ${secret}`, cookie: `session=${secret}` },
        payload: { token: secret, name: 'A', email: 'not-an-email', password: secret },
      });
      const page = await inject({ url: `/setup?token=${secret}` });
      expect(logLines.join('\n')).not.toContain(secret);
      // The one line per request still names the request, its status and its time.
      const completed = logLines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.requestId === page.headers['x-request-id']);
      expect(completed).toMatchObject({
        msg: 'request completed',
        statusCode: page.statusCode,
        request: { method: 'GET', url: '/setup?token=[REDACTED]' },
      });
    });

    describe('first administrator through the one-time setup link', () => {
      it('validates the form field by field', async () => {
        const response = await inject({
          method: 'POST',
          url: '/api/setup',
          payload: { token: 'x'.repeat(43), name: '', email: 'nope', password: 'short' },
        });
        expect(response.statusCode).toBe(400);
        const paths = response.json().error.details.map((detail: { path: string }) => detail.path);
        expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.email', 'body.password']));
      });

      it('refuses an unknown token, accepts the real one once, and never creates a second admin', async () => {
        const issued = await ensureAdmin(harness.database.db, {
          setupTokenTtlMinutes: 10,
          pubSub: harness.stores.pubSub,
        });
        expect(issued.kind).toBe('setup_token');
        const token = issued.kind === 'setup_token' ? issued.token : '';
        const form = { name: 'Amina', email: 'Amina@Example.com', password: 'correct horse battery' };

        const forged = await inject({
          method: 'POST',
          url: '/api/setup',
          payload: { ...form, token: 'f'.repeat(43) },
        });
        expect(forged.statusCode).toBe(404);
        expect(forged.json().error.code).toBe('setup_token_invalid');

        const created = await inject({ method: 'POST', url: '/api/setup', payload: { ...form, token } });
        expect(created.statusCode).toBe(201);
        expect(created.json().user).toMatchObject({
          email: 'amina@example.com',
          role: 'admin',
          name: 'Amina',
        });
        expect(JSON.stringify(created.json())).not.toContain('password');

        const replay = await inject({ method: 'POST', url: '/api/setup', payload: { ...form, token } });
        expect(replay.statusCode).toBe(409);
        expect(replay.json().error.code).toBe('admin_exists');
        expect(
          (
            await ensureAdmin(harness.database.db, {
              setupTokenTtlMinutes: 10,
              pubSub: harness.stores.pubSub,
            })
          ).kind,
        ).toBe('exists');
      });
    });
  });

  describe(`setup races on ${pair.name}`, () => {
    // Each race needs an install with no admin and fresh limits. It is made in the hook, where its time counts: a new
    // database and app took 12-21 s of a case's 30 s on a loaded machine, the race itself well under one.
    let harness: TestApp;
    beforeEach(async () => {
      const fresh = await createTestApp(pair);
      harness = fresh;
      return () => fresh.close();
    });

    it('lets only one of several concurrent setups with different tokens create an admin', async () => {
      const tokens: string[] = [];
      for (let index = 0; index < 4; index++) {
        const issued = await ensureAdmin(harness.database.db, {
          setupTokenTtlMinutes: 10,
          pubSub: harness.stores.pubSub,
        });
        if (issued.kind === 'setup_token') tokens.push(issued.token);
      }
      const responses = await Promise.all(
        tokens.map((token, index) =>
          harness.app.inject({
            method: 'POST',
            url: '/api/setup',
            payload: {
              token,
              name: `Admin ${index}`,
              email: `admin${index}@example.com`,
              password: 'long enough password',
            },
          }),
        ),
      );
      expect(
        responses.map((response) => response.statusCode).filter((status) => status === 201),
      ).toHaveLength(1);
    });

    it('rate-limits setup attempts per client with 429 and Retry-After', async () => {
      const attempts = await Promise.all(
        Array.from({ length: 12 }, () =>
          harness.app.inject({
            method: 'POST',
            url: '/api/setup',
            payload: {
              token: 'g'.repeat(43),
              name: 'X',
              email: 'x@example.com',
              password: 'long enough password',
            },
          }),
        ),
      );
      const limited = attempts.filter((response) => response.statusCode === 429);
      expect(limited).toHaveLength(2);
      expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited[0]!.json().error.code).toBe('rate_limited');
    });
  });
}
