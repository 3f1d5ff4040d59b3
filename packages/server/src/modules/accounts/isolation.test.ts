import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import { testPaymentsConfig } from '../payments/testing/harness.js';
import { createSignedInAccount, type SignedInClient } from './testing.js';

/** A minimal PNG header, which the proof upload checks by its bytes. */
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(64, 1),
]);

type Attempt = [method: InjectOptions['method'], url: string, payload?: unknown];

/** One person's things, made through the API as they would make them. */
interface Things {
  conversationId: string;
  folderId: string;
  presetId: string;
  virtualKeyId: string;
  providerKeyId: string;
  sessionId: string;
  walletId: string;
  intentId: string;
  avatarUrl: string;
}

/**
 * Each row: what a stranger tries with the owner's ids (all must fail as if the thing did not exist, or as
 * forbidden where only staff may go), and how the owner checks that nothing changed.
 */
const rows: Array<{
  thing: string;
  attempts: (ids: Things) => Attempt[];
  refusedWith: 403 | 404;
  intact: (ids: Things, owner: Caller) => Promise<void>;
}> = [
  {
    thing: 'studio conversation',
    attempts: ({ conversationId: id }) => [
      ['GET', `/api/studio/conversations/${id}`],
      ['PATCH', `/api/studio/conversations/${id}`, { title: 'mine now' }],
      ['DELETE', `/api/studio/conversations/${id}`],
      ['GET', `/api/studio/conversations/${id}/export?format=json`],
    ],
    refusedWith: 404,
    intact: async ({ conversationId }, owner) => {
      const response = await owner('GET', `/api/studio/conversations/${conversationId}`);
      expect(response.json().conversation.title).toBe('Owner’s conversation');
    },
  },
  {
    thing: 'studio folder and preset',
    attempts: ({ folderId, presetId }) => [
      ['PATCH', `/api/studio/folders/${folderId}`, { name: 'mine now' }],
      ['DELETE', `/api/studio/folders/${folderId}`],
      ['DELETE', `/api/studio/presets/${presetId}`],
    ],
    refusedWith: 404,
    intact: async (_, owner) => {
      expect((await owner('GET', '/api/studio/folders')).json().folders).toMatchObject([{ name: 'Work' }]);
      expect((await owner('GET', '/api/studio/presets')).json().presets).toHaveLength(1);
    },
  },
  {
    thing: 'virtual API key',
    attempts: ({ virtualKeyId }) => [['DELETE', `/api/keys/${virtualKeyId}`]],
    refusedWith: 404,
    intact: async ({ virtualKeyId }, owner) => {
      const keys = (await owner('GET', '/api/keys')).json().keys;
      expect(keys.find((key: { id: string }) => key.id === virtualKeyId)).toMatchObject({ revokedAt: null });
    },
  },
  {
    thing: 'provider key',
    attempts: ({ providerKeyId }) => [
      ['PATCH', `/api/account/provider-keys/${providerKeyId}`, { useForGateway: false }],
      ['DELETE', `/api/account/provider-keys/${providerKeyId}`],
    ],
    refusedWith: 404,
    intact: async (_, owner) => {
      const keys = (await owner('GET', '/api/account/provider-keys')).json().keys;
      expect(keys).toMatchObject([{ providerId: 'openai', useForGateway: true }]);
    },
  },
  {
    thing: 'session',
    attempts: ({ sessionId }) => [['DELETE', `/api/account/sessions/${sessionId}`]],
    refusedWith: 404,
    intact: async (_, owner) => {
      expect((await owner('GET', '/api/account/sessions')).statusCode).toBe(200);
    },
  },
  {
    thing: 'wallet and ledger',
    attempts: ({ walletId }) => [
      ['GET', `/api/admin/billing/wallets/${walletId}`],
      ['POST', `/api/admin/billing/wallets/${walletId}/entries`, grant],
      ['PUT', `/api/admin/billing/wallets/${walletId}/plan`, { plan: 'pro' }],
    ],
    refusedWith: 403,
    intact: async ({ walletId }, owner) => {
      const balance = (await owner('GET', '/api/billing/balance')).json();
      expect(balance).toMatchObject({ walletId, balance: 1_000_000 });
    },
  },
  {
    thing: 'payment intent, its proof and receipt',
    attempts: ({ intentId }) => [
      ['GET', `/api/payments/intents/${intentId}`],
      ['POST', `/api/payments/intents/${intentId}/sync`],
      ['POST', `/api/payments/intents/${intentId}/cancel`],
      ['GET', `/api/payments/intents/${intentId}/receipt.pdf`],
    ],
    refusedWith: 404,
    intact: async ({ intentId }, owner) => {
      expect((await owner('GET', `/api/payments/intents/${intentId}`)).json()).toMatchObject({
        status: 'paid',
      });
      expect((await owner('GET', `/api/payments/intents/${intentId}/receipt.pdf`)).statusCode).toBe(200);
    },
  },
  {
    thing: 'uploaded proof of payment',
    attempts: ({ intentId }) => [['GET', `/api/admin/payments/intents/${intentId}/proof`]],
    refusedWith: 403,
    intact: async () => {},
  },
];

const grant = { kind: 'grant', amount: 5, reason: 'helping myself', idempotencyKey: 'stranger-grant-1' };

type Caller = (
  method: InjectOptions['method'],
  url: string,
  payload?: unknown,
) => Promise<LightMyRequestResponse>;

for (const pair of backendPairs()) {
  describe(`one person never reaches another’s things by their ids, on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let owner: SignedInClient;
    let stranger: SignedInClient;
    let ids: Things;
    const as =
      (client: SignedInClient): Caller =>
      (method, url, payload) =>
        harness.app.inject({
          method,
          url,
          headers: client.headers,
          ...(payload !== undefined ? { payload: payload as InjectOptions['payload'] } : {}),
        });

    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
      harness.app.payments.config = testPaymentsConfig;
      owner = await createSignedInAccount(harness.app);
      stranger = await createSignedInAccount(harness.app);
      ids = await makeThings(harness, owner);
    });
    afterAll(() => harness.close());

    it.each(rows.map((row) => [row.thing, row] as const))('%s', async (_, row) => {
      const stranger_ = as(stranger);
      for (const [method, url, payload] of row.attempts(ids)) {
        const response = await stranger_(method, url, payload);
        expect(response.statusCode, `${method} ${url}`).toBe(row.refusedWith);
        expect(response.json().error.code).toBe(row.refusedWith === 404 ? 'not_found' : 'forbidden');
      }
      await row.intact(ids, as(owner));
    });

    it('lists, journals and bills only the caller’s own, whatever ids the query names', async () => {
      const stranger_ = as(stranger);
      const lists = [
        ['/api/studio/conversations', 'conversations', ids.conversationId],
        ['/api/keys', 'keys', ids.virtualKeyId],
        ['/api/account/provider-keys', 'keys', ids.providerKeyId],
        ['/api/account/sessions', 'sessions', ids.sessionId],
        ['/api/payments/intents', 'intents', ids.intentId],
      ] as const;
      for (const [url, field, id] of lists) {
        const listed = (await stranger_('GET', `${url}?userId=${owner.userId}`)).json()[field];
        expect(
          listed.map((entry: { id: string }) => entry.id),
          url,
        ).not.toContain(id);
      }
      const balance = (await stranger_('GET', `/api/billing/balance?walletId=${ids.walletId}`)).json();
      expect(balance).toMatchObject({ balance: 0 });
      expect(balance.walletId).not.toBe(ids.walletId);
      const ledger = await stranger_('GET', `/api/billing/ledger?walletId=${ids.walletId}`);
      expect(ledger.json().entries).toEqual([]);
      const csv = await stranger_('GET', `/api/billing/ledger?format=csv&walletId=${ids.walletId}`);
      expect(csv.body.trim().split('\n')).toHaveLength(1);
      const journal = await stranger_('GET', `/api/account/activity?userId=${owner.userId}`);
      expect(journal.json().events.map((event: { type: string }) => event.type)).not.toContain(
        'provider_key.saved',
      );
    });

    it('removes only the caller’s own avatar; the owner’s image stays served', async () => {
      expect((await as(stranger)('DELETE', '/api/account/avatar')).statusCode).toBe(204);
      const image = await harness.app.inject({ url: ids.avatarUrl });
      expect(image.statusCode).toBe(200);
      expect(image.headers['content-type']).toBe('image/webp');
    });
  });
}

async function makeThings(harness: GatewayHarness, owner: SignedInClient): Promise<Things> {
  const call = async (
    method: InjectOptions['method'],
    url: string,
    payload?: unknown,
    expected = [200, 201],
  ) => {
    const response = await harness.app.inject({
      method,
      url,
      headers: owner.headers,
      ...(payload !== undefined ? { payload: payload as InjectOptions['payload'] } : {}),
    });
    if (!expected.includes(response.statusCode)) throw new Error(`${method} ${url}: ${response.body}`);
    return response.json();
  };
  const conversation = await call('POST', '/api/studio/conversations', { title: 'Owner’s conversation' });
  const folder = await call('POST', '/api/studio/folders', { name: 'Work' });
  const preset = await call('POST', '/api/studio/presets', {
    name: 'Mine',
    model: 'gpt-test',
    systemPrompt: 'Hi',
  });
  const virtualKey = await call('POST', '/api/keys', { name: 'laptop' });
  const providerKey = await call('PUT', '/api/account/provider-keys/openai', { key: 'sk-test-1234567890' });
  const balance = await call('GET', '/api/billing/balance');
  const intent = await call('POST', '/api/payments/intents', {
    packId: 'pro',
    currency: 'DZD',
    provider: 'bank_transfer',
  });
  const proof = await harness.app.inject({
    method: 'PUT',
    url: `/api/payments/intents/${intent.id}/proof`,
    headers: { ...owner.headers, 'content-type': 'image/png' },
    payload: png,
  });
  expect(proof.statusCode, proof.body).toBe(201);
  const admin = await createSignedInAccount(harness.app, { role: 'admin' });
  const confirmed = await harness.app.inject({
    method: 'POST',
    url: `/api/admin/payments/intents/${intent.id}/confirm-transfer`,
    headers: admin.headers,
    payload: { amount: 9000, currency: 'DZD' },
  });
  expect(confirmed.json().outcome, confirmed.body).toBe('paid');
  const image = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#36c' } })
    .png()
    .toBuffer();
  const avatar = await harness.app.inject({
    method: 'PUT',
    url: '/api/account/avatar',
    headers: { ...owner.headers, 'content-type': 'image/png' },
    payload: image,
  });
  expect(avatar.statusCode, avatar.body).toBe(200);
  return {
    conversationId: conversation.conversation.id,
    folderId: folder.folder.id,
    presetId: preset.preset.id,
    virtualKeyId: virtualKey.summary.id,
    providerKeyId: providerKey.key.id,
    sessionId: owner.sessionId,
    walletId: balance.walletId,
    intentId: intent.id,
    avatarUrl: avatar.json().user.avatarUrl,
  };
}
