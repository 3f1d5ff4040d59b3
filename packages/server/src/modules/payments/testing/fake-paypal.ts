import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { fromDecimalString, toDecimalString } from '../money.js';
import { type FakeRequest, sleep, startFakeServer } from './fake-server.js';

type Json = Record<string, unknown>;

interface Order {
  id: string;
  intent: string;
  status: 'CREATED' | 'APPROVED' | 'COMPLETED' | 'VOIDED';
  purchase_units: Array<{
    reference_id?: string;
    custom_id?: string;
    description?: string;
    amount: { currency_code: string; value: string };
    payments?: { captures: Json[] };
  }>;
  links: Array<{ href: string; rel: string; method: string }>;
  returnUrl: string;
  cancelUrl: string;
  create_time: string;
}

/**
 * PayPal's REST API as WeBox uses it, on 127.0.0.1: OAuth2 client credentials, Orders v2 (create, get, capture,
 * PayPal-Request-Id honoured), captures (show, refund: a refunded capture is PARTIALLY_REFUNDED, then REFUNDED, as
 * PayPal shows it), and verify-webhook-signature. The buyer "approves" by opening the
 * approve link, which redirects to return_url?token=…&PayerID=… as PayPal does. Deliveries carry the PAYPAL-* headers;
 * their signature is an HMAC under a key only this server knows, so only verify-webhook-signature can tell a forgery.
 */
export async function startFakePaypal(options: {
  clientId: string;
  clientSecret: string;
  webhookId: string;
}) {
  const signingKey = randomBytes(32);
  const orders = new Map<string, Order>();
  const refunds = new Map<string, number>();
  const tokens = new Set<string>();
  const idempotent = new Map<string, { status: number; body: unknown }>();
  const behaviour = {
    createDelayMs: 0,
    /** Capture a different amount than the order's (a tampered or misconfigured payment). */
    captureValue: undefined as string | undefined,
    captureCurrency: undefined as string | undefined,
    tokenLifetimeSeconds: 32_400,
    /**
     * Captures are made PENDING with this `status_details.reason` (PENDING_REVIEW, ECHECK, …): the money is not the
     * seller's yet, until `completeCapture`.
     */
    capturePendingReason: undefined as string | undefined,
    /**
     * Runs once, after an order lookup was answered (with what it said then): what PayPal does right after, e.g. a
     * pending capture completing between WeBox's lookup and the event that reports it.
     */
    afterOrderRead: undefined as ((orderId: string) => void) | undefined,
  };
  const counts = { tokens: 0, captures: 0, verifications: 0 };
  const id = () => randomBytes(9).toString('hex').toUpperCase().slice(0, 17);
  const basic = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`;
  const error = (status: number, name: string, issue?: string) => ({
    status,
    body: { name, message: name, debug_id: id(), ...(issue ? { details: [{ issue }] } : {}) },
  });
  const signatureOf = (transmissionId: string, time: string, webhookId: string, body: string) =>
    createHmac('sha256', signingKey)
      .update(`${transmissionId}|${time}|${webhookId}|${createHash('sha256').update(body).digest('hex')}`)
      .digest('base64');

  const server = await startFakeServer(async (request: FakeRequest) => {
    if (request.method === 'GET' && request.path === '/checkoutnow') {
      // The buyer's browser: approving redirects back to the merchant with the order id as `token`.
      const order = orders.get(request.query.get('token') ?? '');
      if (!order) return error(404, 'RESOURCE_NOT_FOUND');
      if (order.status === 'CREATED') order.status = 'APPROVED';
      const back = new URL(order.returnUrl);
      back.searchParams.set('token', order.id);
      back.searchParams.set('PayerID', 'FAKEPAYER01');
      return { status: 302, body: {}, headers: { location: back.toString() } };
    }
    if (request.method === 'POST' && request.path === '/v1/oauth2/token') {
      if (request.headers.authorization !== basic) return error(401, 'invalid_client');
      if (new URLSearchParams(request.body).get('grant_type') !== 'client_credentials') {
        return error(400, 'unsupported_grant_type');
      }
      counts.tokens += 1;
      const token = `A21AA${randomBytes(24).toString('hex')}`;
      tokens.add(token);
      return {
        status: 200,
        body: {
          scope: 'https://uri.paypal.com/services/payments/payment',
          access_token: token,
          token_type: 'Bearer',
          app_id: 'APP-FAKE',
          expires_in: behaviour.tokenLifetimeSeconds,
          nonce: id(),
        },
      };
    }
    const bearer = /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
    if (!bearer || !tokens.has(bearer)) return error(401, 'AUTHENTICATION_FAILURE');
    const requestId = request.headers['paypal-request-id'];
    const cacheKey = typeof requestId === 'string' ? `${request.path}:${requestId}` : undefined;
    if (request.method === 'POST' && cacheKey && idempotent.has(cacheKey)) return idempotent.get(cacheKey)!;

    let answer: { status: number; body: unknown } = error(404, 'RESOURCE_NOT_FOUND');
    const orderPath = /^\/v2\/checkout\/orders\/([^/]+)(\/capture)?$/.exec(request.path);
    const refundPath = /^\/v2\/payments\/captures\/([^/]+)\/refund$/.exec(request.path);
    const capturePath = /^\/v2\/payments\/captures\/([^/]+)$/.exec(request.path);
    if (request.method === 'POST' && request.path === '/v2/checkout/orders') {
      if (behaviour.createDelayMs) await sleep(behaviour.createDelayMs);
      const body = JSON.parse(request.body) as Json;
      const unit = (body.purchase_units as Order['purchase_units'] | undefined)?.[0];
      const context = (body.payment_source as { paypal?: { experience_context?: Json } } | undefined)?.paypal
        ?.experience_context;
      if (
        body.intent !== 'CAPTURE' ||
        !unit ||
        typeof unit.amount?.value !== 'string' ||
        !/^\d+(\.\d{2})?$/.test(unit.amount.value) ||
        !/^[A-Z]{3}$/.test(unit.amount.currency_code) ||
        typeof context?.return_url !== 'string'
      ) {
        answer = error(422, 'UNPROCESSABLE_ENTITY', 'INVALID_PARAMETER_VALUE');
      } else {
        const orderId = id();
        const order: Order = {
          id: orderId,
          intent: 'CAPTURE',
          status: 'CREATED',
          purchase_units: [unit],
          links: [
            { href: `${server.url}/v2/checkout/orders/${orderId}`, rel: 'self', method: 'GET' },
            { href: `${server.url}/checkoutnow?token=${orderId}`, rel: 'approve', method: 'GET' },
            { href: `${server.url}/v2/checkout/orders/${orderId}/capture`, rel: 'capture', method: 'POST' },
          ],
          returnUrl: context.return_url,
          cancelUrl: String(context.cancel_url ?? ''),
          create_time: new Date().toISOString(),
        };
        orders.set(orderId, order);
        answer = { status: 201, body: view(order) };
      }
    } else if (request.method === 'GET' && orderPath && !orderPath[2]) {
      const order = orders.get(orderPath[1]!);
      if (order) {
        answer = { status: 200, body: view(order) };
        const after = behaviour.afterOrderRead;
        behaviour.afterOrderRead = undefined;
        after?.(order.id);
      }
    } else if (request.method === 'POST' && orderPath?.[2]) {
      const order = orders.get(orderPath[1]!);
      if (!order) answer = error(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
      else if (order.status === 'COMPLETED')
        answer = error(422, 'UNPROCESSABLE_ENTITY', 'ORDER_ALREADY_CAPTURED');
      else if (order.status !== 'APPROVED') answer = error(422, 'UNPROCESSABLE_ENTITY', 'ORDER_NOT_APPROVED');
      else answer = { status: 201, body: view(captureNow(order)) };
    } else if (request.method === 'GET' && capturePath) {
      const found = findCaptureInOrder(capturePath[1]!);
      if (found) answer = { status: 200, body: captureView(found.order, found.capture) };
    } else if (request.method === 'POST' && refundPath) {
      const capture = findCapture(refundPath[1]!);
      const body = JSON.parse(request.body || '{}') as {
        amount?: { value?: string; currency_code?: string };
      };
      const cents = (value: string) => fromDecimalString(value, 'USD') ?? -1;
      if (!capture) answer = error(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
      else {
        const captured = capture.amount as { value: string; currency_code: string };
        const already = refunds.get(String(capture.id)) ?? 0;
        const amount = body.amount?.value ? cents(body.amount.value) : cents(captured.value) - already;
        if (amount <= 0 || already + amount > cents(captured.value)) {
          answer = error(422, 'UNPROCESSABLE_ENTITY', 'REFUND_AMOUNT_EXCEEDED');
        } else {
          refunds.set(String(capture.id), already + amount);
          markRefunded(capture, already + amount);
          answer = { status: 201, body: refundView(capture, amount, already + amount) };
        }
      }
    } else if (request.method === 'POST' && request.path === '/v1/notifications/verify-webhook-signature') {
      counts.verifications += 1;
      const body = JSON.parse(request.body) as Json;
      const event = JSON.stringify(body.webhook_event);
      const expected = signatureOf(
        String(body.transmission_id),
        String(body.transmission_time),
        options.webhookId,
        event,
      );
      const genuine =
        body.webhook_id === options.webhookId &&
        body.auth_algo === 'SHA256withRSA' &&
        typeof body.cert_url === 'string' &&
        body.transmission_sig === expected;
      answer = { status: 200, body: { verification_status: genuine ? 'SUCCESS' : 'FAILURE' } };
    }
    if (cacheKey && answer.status < 300) idempotent.set(cacheKey, answer);
    return answer;
  });

  function captureNow(order: Order): Order {
    counts.captures += 1;
    const unit = order.purchase_units[0]!;
    unit.payments = {
      captures: [
        {
          id: id(),
          ...(behaviour.capturePendingReason
            ? { status: 'PENDING', status_details: { reason: behaviour.capturePendingReason } }
            : { status: 'COMPLETED' }),
          amount: {
            currency_code: behaviour.captureCurrency ?? unit.amount.currency_code,
            value: behaviour.captureValue ?? unit.amount.value,
          },
          final_capture: true,
          custom_id: unit.custom_id,
          create_time: new Date().toISOString(),
        },
      ],
    };
    order.status = 'COMPLETED';
    return order;
  }

  function view(order: Order): Json {
    const { returnUrl: _return, cancelUrl: _cancel, ...rest } = order;
    return structuredClone(rest) as Json;
  }
  function findCaptureInOrder(captureId: string): { order: Order; capture: Json } | undefined {
    for (const order of orders.values()) {
      const capture = order.purchase_units[0]?.payments?.captures.find(
        (candidate) => candidate.id === captureId,
      );
      if (capture) return { order, capture };
    }
    return undefined;
  }
  function findCapture(captureId: string): Json | undefined {
    return findCaptureInOrder(captureId)?.capture;
  }
  /** PayPal's capture status once `total` of it was refunded or reversed (a pending capture stays pending). */
  function markRefunded(capture: Json, total: number) {
    if (capture.status === 'PENDING') return;
    const captured = fromDecimalString((capture.amount as { value: string }).value, 'USD') ?? 0;
    capture.status = total >= captured ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
  }
  /** A capture as GET /v2/payments/captures/{id} shows it: its order in related_ids and in its `up` link. */
  function captureView(order: Order, capture: Json): Json {
    return {
      ...structuredClone(capture),
      supplementary_data: { related_ids: { order_id: order.id } },
      links: [
        { href: `${server.url}/v2/payments/captures/${capture.id}`, rel: 'self', method: 'GET' },
        { href: `${server.url}/v2/payments/captures/${capture.id}/refund`, rel: 'refund', method: 'POST' },
        { href: `${server.url}/v2/checkout/orders/${order.id}`, rel: 'up', method: 'GET' },
      ],
    };
  }
  /**
   * A refund as PayPal shows it (and as the resource of its PAYMENT.CAPTURE.REFUNDED and REVERSED samples): `amount`
   * is this refund, `total_refunded_amount` everything refunded or reversed from the capture so far.
   */
  function refundView(capture: Json, amount: number, total: number): Json {
    const currency = (capture.amount as { currency_code: string }).currency_code;
    const money = (cents: number) => ({ currency_code: currency, value: toDecimalString(cents, currency) });
    const fee = Math.floor(amount / 50);
    const refundId = id();
    const now = new Date().toISOString();
    return {
      id: refundId,
      status: 'COMPLETED',
      amount: money(amount),
      seller_payable_breakdown: {
        gross_amount: money(amount),
        paypal_fee: money(fee),
        net_amount: money(amount - fee),
        total_refunded_amount: money(total),
      },
      create_time: now,
      update_time: now,
      links: [
        { href: `${server.url}/v2/payments/refunds/${refundId}`, rel: 'self', method: 'GET' },
        { href: `${server.url}/v2/payments/captures/${capture.id}`, rel: 'up', method: 'GET' },
      ],
    };
  }

  /** A delivery as PayPal POSTs it; `forged` signs with a key PayPal does not hold. */
  function webhook(
    eventType: string,
    resource: unknown,
    overrides: { eventId?: string; forged?: boolean; resourceType?: string } = {},
  ) {
    const event = {
      id: overrides.eventId ?? `WH-${id()}`,
      event_version: '1.0',
      create_time: new Date().toISOString(),
      resource_type:
        overrides.resourceType ?? (eventType.startsWith('CHECKOUT.') ? 'checkout-order' : 'capture'),
      event_type: eventType,
      summary: eventType,
      resource,
    };
    const payload = JSON.stringify(event);
    const transmissionId = randomUUID();
    const time = new Date().toISOString();
    const signature = overrides.forged
      ? createHmac('sha256', randomBytes(32)).update(payload).digest('base64')
      : signatureOf(transmissionId, time, options.webhookId, payload);
    return {
      eventId: event.id,
      payload,
      headers: {
        'content-type': 'application/json',
        'paypal-transmission-id': transmissionId,
        'paypal-transmission-time': time,
        'paypal-transmission-sig': signature,
        'paypal-cert-url': `${server.url}/v1/notifications/certs/CERT-360caa42-fca2a594-fake`,
        'paypal-auth-algo': 'SHA256withRSA',
      },
    };
  }

  return {
    apiUrl: server.url,
    requests: server.requests,
    orders,
    behaviour,
    counts,
    close: server.close,
    /** The buyer approves on PayPal (what opening the approve link does). */
    approve(orderId: string) {
      const order = orders.get(orderId);
      if (!order) throw new Error(`no order ${orderId}`);
      order.status = 'APPROVED';
    },
    /** PayPal captured the approved order without our call (as if another process's capture answer was lost). */
    capture(orderId: string) {
      captureNow(orders.get(orderId)!);
    },
    /** A PENDING capture completes (PayPal then sends PAYMENT.CAPTURE.COMPLETED): refunded as its refunds say. */
    completeCapture(orderId: string) {
      const capture = orders.get(orderId)!.purchase_units[0]!.payments!.captures[0]!;
      capture.status = 'COMPLETED';
      delete capture.status_details;
      const taken = refunds.get(String(capture.id)) ?? 0;
      if (taken > 0) markRefunded(capture, taken);
    },
    orderOf(intentId: string) {
      return [...orders.values()].find((order) => order.purchase_units[0]?.custom_id === intentId);
    },
    webhook,
    orderApproved(orderId: string, overrides: { eventId?: string; forged?: boolean } = {}) {
      return webhook('CHECKOUT.ORDER.APPROVED', view(orders.get(orderId)!), overrides);
    },
    /** PAYMENT.CAPTURE.COMPLETED for the order's capture (the order must have been captured). */
    captureCompleted(orderId: string, overrides: { eventId?: string; forged?: boolean } = {}) {
      const capture = orders.get(orderId)!.purchase_units[0]!.payments!.captures[0]!;
      return webhook(
        'PAYMENT.CAPTURE.COMPLETED',
        { ...capture, supplementary_data: { related_ids: { order_id: orderId } } },
        overrides,
      );
    },
    /**
     * PAYMENT.CAPTURE.REFUNDED as PayPal sends it for a refund of `amount` minor units, `total` refunded or reversed
     * from the capture so far (this refund and reversals included).
     */
    captureRefunded(captureId: string, amount: number, total: number, overrides: { eventId?: string } = {}) {
      const capture = findCapture(captureId)!;
      refunds.set(captureId, Math.max(refunds.get(captureId) ?? 0, total));
      markRefunded(capture, refunds.get(captureId)!);
      return webhook('PAYMENT.CAPTURE.REFUNDED', refundView(capture, amount, total), {
        ...overrides,
        resourceType: 'refund',
      });
    },
    /**
     * PAYMENT.CAPTURE.REVERSED as PayPal documents it: the resource is the refund PayPal made itself for `amount`
     * minor units (note_to_payer "Payment reversed"), with the capture in its `up` link, and its total counts it
     * (in PayPal's sample both are 2.51). `total` defaults to what the capture had lost before, plus `amount`.
     */
    captureReversed(captureId: string, amount: number, overrides: { eventId?: string; total?: number } = {}) {
      const capture = findCapture(captureId)!;
      const total = overrides.total ?? (refunds.get(captureId) ?? 0) + amount;
      refunds.set(captureId, Math.max(refunds.get(captureId) ?? 0, total));
      markRefunded(capture, refunds.get(captureId)!);
      const refund = { ...refundView(capture, amount, total), note_to_payer: 'Payment reversed' };
      return webhook('PAYMENT.CAPTURE.REVERSED', refund, {
        eventId: overrides.eventId,
        resourceType: 'refund',
      });
    },
  };
}
export type FakePaypal = Awaited<ReturnType<typeof startFakePaypal>>;
