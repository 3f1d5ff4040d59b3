import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { fromDecimalString, toDecimalString } from '../money.js';
import { callJson } from './http.js';
import { type CheckoutCreated, type CheckoutProvider, type CheckoutRequest, ProviderError } from './types.js';

export const PAYPAL_LIVE_URL = 'https://api-m.paypal.com';
export const PAYPAL_SANDBOX_URL = 'https://api-m.sandbox.paypal.com';

const moneySchema = z.object({ currency_code: z.string(), value: z.string() });

/** A capture as PayPal answers it inside an order, or as the resource of a PAYMENT.CAPTURE.* event. */
export const paypalCaptureSchema = z.object({
  id: z.string().min(1),
  status: z.string(),
  amount: moneySchema.optional(),
  custom_id: z.string().optional(),
  supplementary_data: z
    .object({ related_ids: z.object({ order_id: z.string().optional() }).partial().optional() })
    .optional(),
});
export type PaypalCapture = z.output<typeof paypalCaptureSchema>;

/** An order (Orders v2), only the fields we read. */
export const paypalOrderSchema = z.object({
  id: z.string().min(1),
  /** CREATED, SAVED, APPROVED, VOIDED, COMPLETED, PAYER_ACTION_REQUIRED. */
  status: z.string(),
  links: z.array(z.object({ href: z.string(), rel: z.string() }).loose()).optional(),
  purchase_units: z
    .array(
      z
        .object({
          custom_id: z.string().optional(),
          amount: moneySchema.optional(),
          payments: z
            .object({ captures: z.array(paypalCaptureSchema).optional() })
            .loose()
            .optional(),
        })
        .loose(),
    )
    .optional(),
});
export type PaypalOrder = z.output<typeof paypalOrderSchema>;

/** A webhook event: `resource` is an order (CHECKOUT.ORDER.*), a capture or a refund (PAYMENT.CAPTURE.*). */
export const paypalEventSchema = z.object({
  id: z.string().min(1),
  event_type: z.string().min(1),
  resource_type: z.string().optional(),
  resource: z.record(z.string(), z.unknown()),
});
export type PaypalEvent = z.output<typeof paypalEventSchema>;

/** Money in a refund resource; an empty value or currency counts as missing. */
const refundMoneySchema = z.object({ currency_code: z.string().min(1), value: z.string().min(1) });

/** What a PAYMENT.CAPTURE.REFUNDED or PAYMENT.CAPTURE.REVERSED resource (a refund object) says. */
export interface PaypalRefundResource {
  captureId: string;
  refundId: string | undefined;
  /**
   * Minor units taken back from the capture so far, this refund included: `seller_payable_breakdown.
   * total_refunded_amount`. It counts reversals too (a reversal is a refund PayPal made: its own event's total includes
   * it). Undefined when PayPal's value is not a plain decimal.
   */
  takenBackTotal: number | undefined;
  /** Upper-cased. */
  currency: string;
}

/**
 * Reads a refund resource: its capture (from the `up` link) and the capture's cumulative refunded total (not
 * `amount`, which is this refund alone: a total can be applied twice or out of order). Undefined when the capture or
 * the total is missing.
 */
export function refundOfResource(resource: Record<string, unknown>): PaypalRefundResource | undefined {
  const captureId = captureIdOfRefund(resource);
  const breakdown = resource.seller_payable_breakdown as { total_refunded_amount?: unknown } | undefined;
  const money = refundMoneySchema.safeParse(breakdown?.total_refunded_amount);
  if (!captureId || !money.success) return undefined;
  return {
    captureId,
    refundId: typeof resource.id === 'string' ? resource.id : undefined,
    takenBackTotal: fromDecimalString(money.data.value, money.data.currency_code),
    currency: money.data.currency_code.toUpperCase(),
  };
}

/** A refund names its capture in its `up` link (…/v2/payments/captures/{id}). */
function captureIdOfRefund(resource: Record<string, unknown>): string | undefined {
  const links = resource.links as Array<{ rel?: unknown; href?: unknown }> | undefined;
  const up = links?.find((link) => link.rel === 'up' && typeof link.href === 'string');
  const match = up ? /\/captures\/([^/?#]+)/.exec(String(up.href)) : null;
  return match ? decodeURIComponent(match[1]!) : undefined;
}

/** The PAYPAL-* headers of a webhook delivery, forwarded as they came to the verify-webhook-signature call. */
export interface PaypalTransmission {
  transmissionId: string;
  transmissionTime: string;
  transmissionSig: string;
  certUrl: string;
  authAlgo: string;
}

export interface PaypalClientOptions {
  clientId: string;
  clientSecret: string;
  webhookId: string;
  /** REST origin: live, sandbox, or a local test server. */
  apiUrl: string;
  timeoutMs: number;
  dispatcher?: Dispatcher | undefined;
}

/** What a completed capture paid, in minor units; undefined when PayPal's value is not a plain decimal. */
export interface PaypalPaid {
  captureId: string;
  status: string;
  amount: number | undefined;
  currency: string;
}

export function paidOf(capture: PaypalCapture): PaypalPaid {
  const currency = capture.amount?.currency_code.toUpperCase() ?? '';
  return {
    captureId: capture.id,
    status: capture.status,
    amount: capture.amount ? fromDecimalString(capture.amount.value, currency) : undefined,
    currency,
  };
}

/**
 * Capture statuses that mean the buyer paid: COMPLETED, or completed and later refunded (in part or in full; a
 * reversal shows the same way). The money taken back is applied by the refund events, not by the settlement.
 */
export const paidCaptureStatuses: readonly string[] = ['COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED'];

/** The first capture of an order (we create one purchase unit and capture it once). */
export function captureOf(order: PaypalOrder): PaypalCapture | undefined {
  return order.purchase_units?.[0]?.payments?.captures?.[0];
}

/**
 * PayPal Orders v2 on undici. Not through @paypal/paypal-server-sdk: its base URL is fixed by `environment`
 * (production or sandbox only, see getBaseUri in its client), so it cannot reach a local test server, and the few calls
 * we need are small. The OAuth2 client-credentials token is cached until shortly before it expires.
 */
export function createPaypalClient(options: PaypalClientOptions) {
  const baseUrl = options.apiUrl.replace(/\/+$/, '');
  const http = { provider: 'paypal' as const, timeoutMs: options.timeoutMs, dispatcher: options.dispatcher };
  const basic = Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64');
  let token: { value: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const answer = await callJson<{ access_token?: unknown; expires_in?: unknown }>(http, {
      method: 'POST',
      url: `${baseUrl}/v1/oauth2/token`,
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: 'grant_type=client_credentials',
    });
    if (typeof answer.access_token !== 'string' || !answer.access_token) {
      throw new ProviderError('paypal', 'POST /v1/oauth2/token answered no access_token');
    }
    const lifetime = typeof answer.expires_in === 'number' ? answer.expires_in : 300;
    // A minute of margin so a token never expires between our check and PayPal's.
    token = { value: answer.access_token, expiresAt: Date.now() + Math.max(lifetime - 60, 1) * 1000 };
    return token.value;
  }

  async function accessToken(): Promise<string> {
    if (token && token.expiresAt > Date.now()) return token.value;
    // Concurrent callers share one token request.
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    extra: { body?: unknown; requestId?: string } = {},
  ): Promise<T> {
    const send = async () =>
      callJson<T>(http, {
        method,
        url: `${baseUrl}${path}`,
        headers: {
          authorization: `Bearer ${await accessToken()}`,
          'content-type': 'application/json',
          accept: 'application/json',
          prefer: 'return=representation',
          ...(extra.requestId ? { 'paypal-request-id': extra.requestId } : {}),
        },
        ...(extra.body !== undefined ? { body: JSON.stringify(extra.body) } : {}),
      });
    try {
      return await send();
    } catch (error) {
      // A token revoked early: fetch a new one once.
      if (error instanceof ProviderError && error.options.status === 401) {
        token = undefined;
        return send();
      }
      throw error;
    }
  }

  async function getOrder(orderId: string): Promise<PaypalOrder> {
    return paypalOrderSchema.parse(await call('GET', `/v2/checkout/orders/${encodeURIComponent(orderId)}`));
  }

  /** A capture (GET /v2/payments/captures/{id}): its status, amount, custom_id and order; undefined when PayPal has none. */
  async function getCapture(captureId: string): Promise<PaypalCapture | undefined> {
    try {
      return paypalCaptureSchema.parse(
        await call('GET', `/v2/payments/captures/${encodeURIComponent(captureId)}`),
      );
    } catch (error) {
      if (error instanceof ProviderError && error.options.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * Captures an approved order, idempotently (same PayPal-Request-Id for the same intent). An order already captured
   * (422 ORDER_ALREADY_CAPTURED) or not approved yet answers with the order as it stands.
   */
  async function captureOrder(orderId: string, requestId: string): Promise<PaypalOrder> {
    try {
      return paypalOrderSchema.parse(
        await call('POST', `/v2/checkout/orders/${encodeURIComponent(orderId)}/capture`, {
          body: {},
          requestId,
        }),
      );
    } catch (error) {
      if (error instanceof ProviderError && error.options.status === 422) return getOrder(orderId);
      throw error;
    }
  }

  const client: CheckoutProvider & {
    getOrder: typeof getOrder;
    getCapture: typeof getCapture;
    captureOrder: typeof captureOrder;
    verifyWebhook(transmission: PaypalTransmission, rawBody: Buffer): Promise<boolean>;
  } = {
    name: 'paypal',
    currencies: ['EUR', 'USD'],
    async createCheckout(request: CheckoutRequest): Promise<CheckoutCreated> {
      const order = paypalOrderSchema.parse(
        await call('POST', '/v2/checkout/orders', {
          requestId: `checkout-${request.intentId}`,
          body: {
            intent: 'CAPTURE',
            purchase_units: [
              {
                reference_id: request.intentId,
                custom_id: request.intentId,
                description: request.description.slice(0, 127),
                amount: {
                  currency_code: request.currency,
                  value: toDecimalString(request.amount, request.currency),
                },
              },
            ],
            payment_source: {
              paypal: {
                experience_context: {
                  return_url: request.successUrl,
                  cancel_url: request.failureUrl,
                  locale: paypalLocale[request.locale],
                  user_action: 'PAY_NOW',
                  shipping_preference: 'NO_SHIPPING',
                  brand_name: 'WeBox',
                },
              },
            },
          },
        }),
      );
      // `approve` for orders created with application_context, `payer-action` with payment_source.
      const link = order.links?.find(
        (candidate) => candidate.rel === 'approve' || candidate.rel === 'payer-action',
      );
      if (!link) throw new ProviderError('paypal', 'order created without an approve link');
      return { providerRef: order.id, checkoutUrl: link.href };
    },
    async refund({ providerPaymentId, amount, currency, idempotencyKey }) {
      const refund = await call<{ id?: unknown }>(
        'POST',
        `/v2/payments/captures/${encodeURIComponent(providerPaymentId)}/refund`,
        {
          body: { amount: { value: toDecimalString(amount, currency), currency_code: currency } },
          requestId: idempotencyKey,
        },
      );
      if (typeof refund.id !== 'string') throw new ProviderError('paypal', 'refund answered without id');
      return { refundId: refund.id };
    },
    getOrder,
    getCapture,
    captureOrder,
    /**
     * Asks PayPal whether a delivery is genuine. The event goes back byte for byte as received (spliced into the
     * request rather than re-serialised), since PayPal checks the signature over the original body.
     */
    async verifyWebhook(transmission, rawBody) {
      const head = JSON.stringify({
        auth_algo: transmission.authAlgo,
        cert_url: transmission.certUrl,
        transmission_id: transmission.transmissionId,
        transmission_sig: transmission.transmissionSig,
        transmission_time: transmission.transmissionTime,
        webhook_id: options.webhookId,
      });
      const body = `${head.slice(0, -1)},"webhook_event":${rawBody.toString('utf8')}}`;
      const answer = await callJson<{ verification_status?: unknown }>(http, {
        method: 'POST',
        url: `${baseUrl}/v1/notifications/verify-webhook-signature`,
        headers: {
          authorization: `Bearer ${await accessToken()}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body,
      });
      return answer.verification_status === 'SUCCESS';
    },
  };
  return client;
}
export type PaypalClient = ReturnType<typeof createPaypalClient>;

/** PayPal takes BCP 47 locales with a region. */
const paypalLocale = { ar: 'ar-EG', fr: 'fr-FR', en: 'en-US' } as const;

/** The PAYPAL-* headers of a delivery, or undefined when one is missing. */
export function transmissionOf(
  headers: Record<string, string | string[] | undefined>,
): PaypalTransmission | undefined {
  const get = (name: string) => {
    const value = headers[name];
    return typeof value === 'string' && value.length > 0 && value.length <= 2000 ? value : undefined;
  };
  const transmissionId = get('paypal-transmission-id');
  const transmissionTime = get('paypal-transmission-time');
  const transmissionSig = get('paypal-transmission-sig');
  const certUrl = get('paypal-cert-url');
  const authAlgo = get('paypal-auth-algo');
  if (!transmissionId || !transmissionTime || !transmissionSig || !certUrl || !authAlgo) return undefined;
  return { transmissionId, transmissionTime, transmissionSig, certUrl, authAlgo };
}
