import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { type FakeRequest, sleep, startFakeServer } from './fake-server.js';

type Json = Record<string, unknown>;

/**
 * The part of Stripe's API WeBox uses, on 127.0.0.1: Checkout Sessions (form-encoded, Idempotency-Key honoured),
 * PaymentIntents retrieval and Refunds. Events are signed as Stripe signs them (`Stripe-Signature: t=…,v1=…`).
 */
export async function startFakeStripe(options: { secretKey: string; webhookSecret: string }) {
  const sessions = new Map<string, Json>();
  const paymentIntents = new Map<string, Json>();
  const charges = new Map<string, Json>();
  const idempotent = new Map<string, Json>();
  const behaviour = {
    createDelayMs: 0,
    /**
     * Runs once, after a PaymentIntent lookup was answered (with what it said then): what Stripe does right after,
     * e.g. an async payment succeeding between WeBox's lookup and the event that reports it.
     */
    afterPaymentIntentRead: undefined as ((paymentIntentId: string) => void) | undefined,
  };
  const id = (prefix: string) => `${prefix}_test_${randomBytes(10).toString('hex')}`;
  const signer = new Stripe(options.secretKey);

  const server = await startFakeServer(async (request: FakeRequest) => {
    if (request.headers.authorization !== `Bearer ${options.secretKey}`) {
      return { status: 401, body: { error: { type: 'invalid_request_error', message: 'Invalid API Key' } } };
    }
    const key = request.headers['idempotency-key'];
    const cacheKey = typeof key === 'string' ? `${request.path}:${key}` : undefined;
    if (request.method === 'POST' && cacheKey && idempotent.has(cacheKey)) {
      return { status: 200, body: idempotent.get(cacheKey) };
    }
    const form = new URLSearchParams(request.body);
    let answer: { status: number; body: unknown } = {
      status: 404,
      body: { error: { message: 'not found' } },
    };
    if (request.method === 'POST' && request.path === '/v1/checkout/sessions') {
      if (behaviour.createDelayMs) await sleep(behaviour.createDelayMs);
      const sessionId = id('cs');
      const session: Json = {
        id: sessionId,
        object: 'checkout.session',
        mode: form.get('mode'),
        amount_total: Number(form.get('line_items[0][price_data][unit_amount]')),
        currency: form.get('line_items[0][price_data][currency]'),
        client_reference_id: form.get('client_reference_id'),
        metadata: { intent_id: form.get('metadata[intent_id]') },
        payment_intent_metadata: form.get('payment_intent_data[metadata][intent_id]'),
        success_url: form.get('success_url'),
        cancel_url: form.get('cancel_url'),
        locale: form.get('locale'),
        expires_at: Number(form.get('expires_at')),
        payment_status: 'unpaid',
        status: 'open',
        payment_intent: null,
        url: `${server.url}/c/pay/${sessionId}`,
      };
      sessions.set(sessionId, session);
      answer = { status: 200, body: session };
    } else if (request.method === 'GET' && request.path.startsWith('/v1/checkout/sessions/')) {
      const session = sessions.get(decodeURIComponent(request.path.split('/')[4]!));
      if (session) answer = { status: 200, body: session };
    } else if (request.method === 'GET' && request.path.startsWith('/v1/payment_intents/')) {
      const paymentIntentId = decodeURIComponent(request.path.split('/')[3]!);
      const paymentIntent = paymentIntents.get(paymentIntentId);
      if (paymentIntent) {
        answer = { status: 200, body: structuredClone(paymentIntent) };
        const after = behaviour.afterPaymentIntentRead;
        behaviour.afterPaymentIntentRead = undefined;
        after?.(paymentIntentId);
      }
    } else if (request.method === 'POST' && request.path === '/v1/refunds') {
      const paymentIntent = paymentIntents.get(form.get('payment_intent') ?? '');
      const charge = paymentIntent && charges.get(String(paymentIntent.latest_charge));
      const amount = Number(form.get('amount'));
      if (!charge || !Number.isInteger(amount) || amount <= 0) {
        answer = { status: 400, body: { error: { type: 'invalid_request_error', message: 'bad refund' } } };
      } else if ((charge.amount_refunded as number) + amount > (charge.amount as number)) {
        answer = { status: 400, body: { error: { type: 'invalid_request_error', message: 'too much' } } };
      } else {
        charge.amount_refunded = (charge.amount_refunded as number) + amount;
        charge.refunded = charge.amount_refunded === charge.amount;
        answer = {
          status: 200,
          body: {
            id: id('re'),
            object: 'refund',
            amount,
            payment_intent: paymentIntent.id,
            status: 'succeeded',
          },
        };
      }
    }
    if (cacheKey && answer.status === 200) idempotent.set(cacheKey, answer.body as Json);
    return answer;
  });

  return {
    apiUrl: server.url,
    requests: server.requests,
    sessions,
    paymentIntents,
    charges,
    behaviour,
    close: server.close,
    /**
     * The buyer pays: the session completes with a succeeded PaymentIntent and its charge. With `processing`, an
     * asynchronous method (SEPA Direct Debit): the session is complete but unpaid, the PaymentIntent `processing` and
     * its charge `pending` until `succeed` (Stripe then sends checkout.session.async_payment_succeeded).
     */
    complete(sessionId: string, options: { processing?: boolean } = {}) {
      const session = sessions.get(sessionId)!;
      const paymentIntentId = id('pi');
      const chargeId = id('ch');
      const processing = options.processing === true;
      paymentIntents.set(paymentIntentId, {
        id: paymentIntentId,
        object: 'payment_intent',
        amount: session.amount_total,
        amount_received: processing ? 0 : session.amount_total,
        currency: session.currency,
        status: processing ? 'processing' : 'succeeded',
        latest_charge: chargeId,
        metadata: { intent_id: session.payment_intent_metadata },
      });
      charges.set(chargeId, {
        id: chargeId,
        object: 'charge',
        amount: session.amount_total,
        amount_refunded: 0,
        currency: session.currency,
        payment_intent: paymentIntentId,
        refunded: false,
        status: processing ? 'pending' : 'succeeded',
      });
      Object.assign(session, {
        payment_status: processing ? 'unpaid' : 'paid',
        status: 'complete',
        payment_intent: paymentIntentId,
      });
      return { session, paymentIntentId, chargeId };
    },
    /** An asynchronous payment started by `complete(…, { processing: true })` succeeds. */
    succeed(sessionId: string) {
      const session = sessions.get(sessionId)!;
      const paymentIntent = paymentIntents.get(String(session.payment_intent))!;
      Object.assign(paymentIntent, { status: 'succeeded', amount_received: paymentIntent.amount });
      charges.get(String(paymentIntent.latest_charge))!.status = 'succeeded';
      session.payment_status = 'paid';
      return session;
    },
    /**
     * A Dispute object as Stripe's `charge.dispute.*` events carry it (for the whole charge unless `amount` is given;
     * `status` e.g. needs_response, won, lost, warning_closed).
     */
    dispute(chargeId: string, overrides: { amount?: number; status?: string; id?: string } = {}): Json {
      const charge = charges.get(chargeId)!;
      return {
        id: overrides.id ?? id('du'),
        object: 'dispute',
        amount: overrides.amount ?? charge.amount,
        balance_transactions: [],
        charge: chargeId,
        created: Math.floor(Date.now() / 1000),
        currency: charge.currency,
        evidence: {},
        evidence_details: { due_by: null, has_evidence: false, past_due: false, submission_count: 0 },
        is_charge_refundable: false,
        livemode: false,
        metadata: {},
        payment_intent: charge.payment_intent,
        reason: 'fraudulent',
        status: overrides.status ?? 'needs_response',
      };
    },
    /** A signed event as Stripe would POST it; `timestamp` (seconds) lets a test send a stale one. */
    event(
      type: string,
      object: unknown,
      overrides: { eventId?: string; timestamp?: number; secret?: string } = {},
    ) {
      const payload = JSON.stringify({
        id: overrides.eventId ?? id('evt'),
        object: 'event',
        api_version: '2025-01-27.acacia',
        created: Math.floor(Date.now() / 1000),
        type,
        data: { object },
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
      });
      const header = signer.webhooks.generateTestHeaderString({
        payload,
        secret: overrides.secret ?? options.webhookSecret,
        ...(overrides.timestamp ? { timestamp: overrides.timestamp } : {}),
      });
      return {
        payload,
        headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': header },
      };
    },
  };
}
export type FakeStripe = Awaited<ReturnType<typeof startFakeStripe>>;
