import { randomBytes } from 'node:crypto';
import { signChargilyBody } from '../providers/chargily.js';
import { type FakeRequest, sleep, startFakeServer } from './fake-server.js';

interface Checkout {
  id: string;
  entity: 'checkout';
  livemode: boolean;
  amount: number;
  currency: string;
  fees: number;
  status: 'pending' | 'paid' | 'failed' | 'canceled' | 'expired';
  locale: string;
  description: string | null;
  success_url: string;
  failure_url: string;
  webhook_endpoint: string;
  metadata: unknown;
  checkout_url: string;
  created_at: number;
  updated_at: number;
}

/**
 * Chargily Pay v2 on 127.0.0.1: POST /checkouts and GET /checkouts/{id} with Bearer auth, and webhook events signed
 * as Chargily signs them (header `signature` = hex HMAC-SHA256 of the raw body under the secret key).
 */
export async function startFakeChargily(options: { secretKey: string }) {
  const checkouts = new Map<string, Checkout>();
  const behaviour = { createDelayMs: 0, deliveries: [] as Array<{ status: number; body: string }> };
  const id = () => `01h${randomBytes(12).toString('hex')}`;

  const server = await startFakeServer(async (request: FakeRequest) => {
    // The buyer's browser on the payment page: paying marks the checkout paid, sends the signed webhook as Chargily
    // does, then redirects to success_url.
    const pay = /^\/test\/checkout\/([^/]+)\/pay$/.exec(request.path);
    if (request.method === 'GET' && pay) {
      const checkout = checkouts.get(decodeURIComponent(pay[1]!));
      if (!checkout) return { status: 404, body: { message: 'Not found' } };
      checkout.status = 'paid';
      checkout.updated_at = Math.floor(Date.now() / 1000);
      if (checkout.webhook_endpoint) {
        const delivery = webhook(checkout.id, 'checkout.paid');
        const response = await fetch(checkout.webhook_endpoint, {
          method: 'POST',
          headers: delivery.headers,
          body: delivery.payload,
        });
        behaviour.deliveries.push({ status: response.status, body: await response.text() });
      }
      return { status: 302, body: {}, headers: { location: checkout.success_url } };
    }
    if (request.headers.authorization !== `Bearer ${options.secretKey}`) {
      return { status: 401, body: { message: 'Unauthenticated.' } };
    }
    if (request.method === 'POST' && request.path === '/api/v2/checkouts') {
      if (behaviour.createDelayMs) await sleep(behaviour.createDelayMs);
      const body = JSON.parse(request.body) as Record<string, unknown>;
      const errors: Record<string, string[]> = {};
      if (!Number.isInteger(body.amount) || (body.amount as number) < 50) errors.amount = ['invalid amount'];
      if (body.currency !== 'dzd') errors.currency = ['must be dzd'];
      if (typeof body.success_url !== 'string') errors.success_url = ['required'];
      if (body.locale && !['ar', 'fr', 'en'].includes(String(body.locale))) errors.locale = ['invalid'];
      if (Object.keys(errors).length) return { status: 422, body: { message: 'invalid', errors } };
      const now = Math.floor(Date.now() / 1000);
      const checkout: Checkout = {
        id: id(),
        entity: 'checkout',
        livemode: false,
        amount: body.amount as number,
        currency: 'dzd',
        fees: 0,
        status: 'pending',
        locale: String(body.locale ?? 'ar'),
        description: (body.description as string | undefined) ?? null,
        success_url: String(body.success_url),
        failure_url: String(body.failure_url ?? ''),
        webhook_endpoint: String(body.webhook_endpoint ?? ''),
        metadata: body.metadata ?? null,
        checkout_url: '',
        created_at: now,
        updated_at: now,
      };
      checkout.checkout_url = `${server.url}/test/checkout/${checkout.id}/pay`;
      checkouts.set(checkout.id, checkout);
      return { status: 200, body: checkout };
    }
    const match = /^\/api\/v2\/checkouts\/([^/]+)$/.exec(request.path);
    if (request.method === 'GET' && match) {
      const checkout = checkouts.get(decodeURIComponent(match[1]!));
      return checkout ? { status: 200, body: checkout } : { status: 404, body: { message: 'Not found' } };
    }
    return { status: 404, body: { message: 'Not found' } };
  });

  /** The event Chargily would POST to webhook_endpoint, with its headers; `data` is the checkout now. */
  function webhook(
    checkoutId: string,
    type: string,
    overrides: { eventId?: string; data?: unknown; key?: string } = {},
  ) {
    const checkout = checkouts.get(checkoutId);
    const event = {
      id: overrides.eventId ?? id(),
      entity: 'event',
      livemode: 'false',
      type,
      data: overrides.data ?? checkout ?? { id: checkoutId },
      created_at: Math.floor(Date.now() / 1000),
      updated_at: Math.floor(Date.now() / 1000),
    };
    const payload = JSON.stringify(event);
    return {
      eventId: event.id,
      payload,
      headers: {
        'content-type': 'application/json',
        signature: signChargilyBody(payload, overrides.key ?? options.secretKey),
      },
    };
  }

  return {
    apiUrl: `${server.url}/api/v2`,
    requests: server.requests,
    checkouts,
    behaviour,
    close: server.close,
    setStatus(checkoutId: string, status: Checkout['status']) {
      const checkout = checkouts.get(checkoutId);
      if (!checkout) throw new Error(`no checkout ${checkoutId}`);
      checkout.status = status;
      checkout.updated_at = Math.floor(Date.now() / 1000);
    },
    webhook,
  };
}
export type FakeChargily = Awaited<ReturnType<typeof startFakeChargily>>;
