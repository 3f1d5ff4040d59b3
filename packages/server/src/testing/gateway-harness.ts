import type { AddressInfo } from 'node:net';
import { type GatewayConfigInput, gatewayConfigSchema } from '@webox/gateway';
import { type FakeUpstream, startFakeUpstream } from '@webox/gateway/testing';
import { eq } from 'drizzle-orm';
import { users } from '../modules/accounts/tables.js';
import { createVirtualKey } from '../modules/gateway/keys-service.js';
import { type Metering, meteringOff } from '../modules/gateway/metering.js';
import { usageRecords } from '../modules/gateway/tables.js';
import type { DatabaseBackend, StoreBackend } from './backends.js';
import { createTestApp, type TestApp } from './test-app.js';

/**
 * "Hi" is 2 bytes plus 8 tokens of message overhead, so the hold's prompt bound is 10 tokens, and `max_tokens` bounds
 * the output at 10: with `fakeCompletion()` reporting exactly that, a wallet affords an exact number of calls.
 */
export const tenTokenRequest = {
  model: 'gpt-test',
  messages: [{ role: 'user' as const, content: 'Hi' }],
  max_tokens: 10,
};

/** A fake provider's non-streamed answer reporting `usage` (default: the 10 + 10 tokens `tenTokenRequest` holds). */
export function fakeCompletion(
  usage: { prompt: number; completion: number } = { prompt: 10, completion: 10 },
  options: { delayMs?: number; finishReason?: 'length' | 'stop' } = {},
) {
  return {
    kind: 'json' as const,
    ...(options.delayMs ? { delayMs: options.delayMs } : {}),
    body: {
      id: 'chatcmpl-fixed',
      object: 'chat.completion',
      created: 1_741_569_952,
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'ok' },
          finish_reason: options.finishReason ?? 'length',
        },
      ],
      usage: {
        prompt_tokens: usage.prompt,
        completion_tokens: usage.completion,
        total_tokens: usage.prompt + usage.completion,
      },
    },
  };
}

export interface GatewayHarness extends TestApp {
  origin: string;
  primary: FakeUpstream;
  backup: FakeUpstream;
  userId: string;
  /** A fresh virtual key for the test user. */
  createKey(options?: Partial<Parameters<typeof createVirtualKey>[1]>): Promise<string>;
  createUser(email: string): Promise<string>;
  /** The usage record of a request, once the batched writer has written what it holds; undefined if none. */
  usageRecordOf(requestId: string): Promise<typeof usageRecords.$inferSelect | undefined>;
}

/**
 * The whole server listening on 127.0.0.1 in front of two local fake providers (primary and backup), with a
 * user and keys. Upstream keys are made up here, at test time.
 */
export async function startGatewayHarness(
  backends: { database: DatabaseBackend; stores: StoreBackend },
  options: {
    /** Free calls by default; `'ledger'` charges wallets through the billing module, as the server does. */
    metering?: Metering | 'ledger';
    config?: (urls: { primary: string; backup: string }) => Partial<GatewayConfigInput>;
    /** Environment overrides (e.g. LOG_LEVEL, with `logStream` to read what the server logs). */
    env?: Parameters<typeof createTestApp>[1];
    logStream?: { write(line: string): void };
    /** A module each PDF export's worker thread imports first (`pdf-worker-hooks.ts`). */
    pdfWorkerSetup?: URL;
    /** How long /v1 caches a user's own provider keys (default 30 s). */
    ownKeysTtlMs?: number;
  } = {},
): Promise<GatewayHarness> {
  const primary = await startFakeUpstream();
  const backup = await startFakeUpstream();
  const upstreamKey = (name: string) => `test-${name}-${Math.random().toString(36).slice(2)}`;
  const config = gatewayConfigSchema.parse({
    providers: {
      primary: {
        type: 'openai-compatible',
        baseUrl: `${primary.url}/v1`,
        keys: [upstreamKey('primary')],
        allowPrivateNetwork: true,
      },
      backup: {
        type: 'openai-compatible',
        baseUrl: `${backup.url}/v1`,
        keys: [upstreamKey('backup')],
        allowPrivateNetwork: true,
      },
      claude: {
        type: 'anthropic',
        baseUrl: primary.url,
        keys: [upstreamKey('anthropic')],
        allowPrivateNetwork: true,
      },
    },
    models: {
      'gpt-test': {
        provider: 'primary',
        model: 'gpt-4o-mini',
        contextWindow: 128_000,
        maxOutputTokens: 16_384,
        capabilities: ['chat', 'tools', 'json', 'vision'],
        price: { inputPerMillion: 150_000, outputPerMillion: 600_000, cachedInputPerMillion: 75_000 },
      },
      'backup-test': {
        provider: 'backup',
        model: 'backup-model',
        contextWindow: 32_000,
        price: { inputPerMillion: 100_000, outputPerMillion: 400_000 },
      },
      'claude-test': {
        provider: 'claude',
        model: 'claude-sonnet-4-5',
        contextWindow: 200_000,
        maxOutputTokens: 64_000,
        price: { inputPerMillion: 3_000_000, outputPerMillion: 15_000_000 },
      },
      'embed-test': {
        provider: 'primary',
        model: 'text-embedding-3-small',
        contextWindow: 8_191,
        capabilities: ['embeddings'],
        price: { inputPerMillion: 20_000, outputPerMillion: 0 },
      },
    },
    routes: {
      smart: { strategy: 'fallback', targets: [{ model: 'gpt-test' }, { model: 'backup-test' }] },
      // Across wire formats: Anthropic first (served by the primary fake), the OpenAI-compatible backup behind it.
      'claude-first': { strategy: 'fallback', targets: [{ model: 'claude-test' }, { model: 'backup-test' }] },
      // Pro-plan callers are served by the backup provider, everyone else by the primary.
      tiered: [
        { when: [{ plan: ['pro'] }], targets: [{ model: 'backup-test' }] },
        { targets: [{ model: 'gpt-test' }] },
      ],
    },
    resilience: {
      attemptTimeoutMs: 2_000,
      totalTimeoutMs: 8_000,
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2_000 },
      breaker: { failureThreshold: 50, openMs: 200 },
    },
    ...options.config?.({ primary: primary.url, backup: backup.url }),
  });
  const metering = options.metering === 'ledger' ? undefined : (options.metering ?? meteringOff);
  const harness = await createTestApp(backends, options.env ?? {}, {
    gatewayConfig: config,
    ...(metering ? { metering } : {}),
    ...(options.logStream ? { logStream: options.logStream } : {}),
    ...(options.pdfWorkerSetup ? { pdfWorkerSetup: options.pdfWorkerSetup } : {}),
    ...(options.ownKeysTtlMs !== undefined ? { ownKeysTtlMs: options.ownKeysTtlMs } : {}),
  });
  await harness.app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  const origin = `http://127.0.0.1:${(harness.app.server.address() as AddressInfo).port}`;
  const createUser = async (email: string) => {
    const [row] = await harness.database.db
      .insert(users)
      .values({ email, name: email.split('@')[0]!, emailVerifiedAt: new Date() })
      .returning();
    return row!.id;
  };
  const userId = await createUser(`dev-${Math.random().toString(36).slice(2)}@example.com`);
  return {
    ...harness,
    origin,
    primary,
    backup,
    userId,
    createUser,
    async usageRecordOf(requestId) {
      await harness.app.usageWriter.flush();
      const [record] = await harness.database.db
        .select()
        .from(usageRecords)
        .where(eq(usageRecords.requestId, requestId));
      return record;
    },
    async createKey(keyOptions = {}) {
      return (await createVirtualKey(harness.database.db, { name: 'test', userId, ...keyOptions })).key;
    },
    async close() {
      await harness.close();
      await primary.close();
      await backup.close();
    },
  };
}
