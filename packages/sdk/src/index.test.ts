import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseBackends, storeBackends } from '../../server/src/testing/backends.js';
import { createTestApp, type TestApp } from '../../server/src/testing/test-app.js';
import { currentOpenApiDocument } from '../scripts/openapi-document.js';
import { createWeboxClient } from './index.js';

describe('@webox/sdk', () => {
  it('is generated from the current server routes (run `npm run openapi` when this fails)', async () => {
    const committed = JSON.parse(await readFile(new URL('../openapi.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(await currentOpenApiDocument())));
  });

  describe('against a live server', () => {
    let harness: TestApp;
    let baseUrl: string;
    beforeAll(async () => {
      harness = await createTestApp({ database: databaseBackends()[0]!, stores: storeBackends()[0]! });
      await harness.app.listen({ port: 0, host: '127.0.0.1' });
      baseUrl = `http://127.0.0.1:${(harness.app.server.address() as AddressInfo).port}/`;
    });
    afterAll(() => harness.close());

    it('calls typed endpoints and surfaces the documented error shape', async () => {
      const client = createWeboxClient({ baseUrl });
      const health = await client.GET('/health');
      expect(health.data).toEqual({ status: 'ok' });
      const setup = await client.POST('/api/setup', {
        body: { token: 'x'.repeat(43), name: 'A', email: 'a@example.com', password: 'long enough password' },
      });
      expect(setup.response.status).toBe(404);
      expect(setup.error?.error.code).toBe('setup_token_invalid');
    });
  });
});
