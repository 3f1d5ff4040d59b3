import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { callJson } from './http.js';
import type { CheckoutCreated, CheckoutProvider, CheckoutRequest } from './types.js';

export const CHARGILY_LIVE_URL = 'https://pay.chargily.net/api/v2';
export const CHARGILY_TEST_URL = 'https://pay.chargily.net/test/api/v2';

/** A checkout as Chargily Pay v2 answers it (only the fields we read). */
export const chargilyCheckoutSchema = z.object({
  id: z.string().min(1),
  entity: z.literal('checkout').optional(),
  livemode: z.union([z.boolean(), z.string()]).optional(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(['pending', 'processing', 'paid', 'failed', 'canceled', 'expired']),
  checkout_url: z.string().optional(),
  metadata: z.unknown().optional(),
});
export type ChargilyCheckout = z.output<typeof chargilyCheckoutSchema>;

/** A webhook event: `data` is the checkout at the time of the event. */
export const chargilyEventSchema = z.object({
  id: z.string().min(1),
  entity: z.literal('event').optional(),
  type: z.string().min(1),
  data: z.object({ id: z.string().min(1) }).passthrough(),
});
export type ChargilyEvent = z.output<typeof chargilyEventSchema>;

export interface ChargilyClientOptions {
  secretKey: string;
  /** Default: the test API for `test_` keys, the live one otherwise. */
  apiUrl?: string | undefined;
  timeoutMs: number;
  dispatcher?: Dispatcher | undefined;
}

/** Chargily's API for its keys: test keys start with `test_`. */
export function chargilyDefaultUrl(secretKey: string): string {
  return secretKey.startsWith('test_') ? CHARGILY_TEST_URL : CHARGILY_LIVE_URL;
}

/**
 * Chargily Pay v2 (DZD through EDAHABIA and CIB). Written on undici rather than @chargily/chargily-pay 2.1: the
 * package hard-codes its two base URLs (no local test server), has no timeout, and its verifySignature logs to the
 * console and throws instead of answering false.
 */
export function createChargilyClient(options: ChargilyClientOptions) {
  const baseUrl = (options.apiUrl ?? chargilyDefaultUrl(options.secretKey)).replace(/\/+$/, '');
  const http = {
    provider: 'chargily' as const,
    timeoutMs: options.timeoutMs,
    dispatcher: options.dispatcher,
  };
  const headers = {
    authorization: `Bearer ${options.secretKey}`,
    'content-type': 'application/json',
    accept: 'application/json',
  };

  async function getCheckout(id: string): Promise<ChargilyCheckout> {
    const body = await callJson<unknown>(http, {
      method: 'GET',
      url: `${baseUrl}/checkouts/${encodeURIComponent(id)}`,
      headers,
    });
    return chargilyCheckoutSchema.parse(body);
  }

  const client: CheckoutProvider & {
    getCheckout: typeof getCheckout;
    verifySignature(rawBody: Buffer, signature: string | undefined): boolean;
  } = {
    name: 'chargily',
    currencies: ['DZD'],
    async createCheckout(request: CheckoutRequest): Promise<CheckoutCreated> {
      const body = await callJson<unknown>(http, {
        method: 'POST',
        url: `${baseUrl}/checkouts`,
        headers,
        body: JSON.stringify({
          amount: request.amount,
          currency: 'dzd',
          success_url: request.successUrl,
          failure_url: request.failureUrl,
          webhook_endpoint: request.webhookUrl,
          description: request.description,
          locale: request.locale,
          metadata: { intent_id: request.intentId },
        }),
      });
      const checkout = chargilyCheckoutSchema.parse(body);
      if (!checkout.checkout_url) throw new Error('Chargily answered a checkout without checkout_url');
      return { providerRef: checkout.id, checkoutUrl: checkout.checkout_url };
    },
    getCheckout,
    verifySignature(rawBody, signature) {
      return verifyChargilySignature(rawBody, signature, options.secretKey);
    },
  };
  return client;
}
export type ChargilyClient = ReturnType<typeof createChargilyClient>;

/** Chargily signs the raw body: header `signature` = hex HMAC-SHA256 under the secret key. Constant-time compare. */
export function verifyChargilySignature(
  rawBody: Buffer,
  signature: string | undefined,
  secretKey: string,
): boolean {
  if (!signature || !/^[0-9a-f]{64}$/i.test(signature)) return false;
  const expected = createHmac('sha256', secretKey).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

export function signChargilyBody(rawBody: string | Buffer, secretKey: string): string {
  return createHmac('sha256', secretKey).update(rawBody).digest('hex');
}
