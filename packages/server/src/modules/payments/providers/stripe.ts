import Stripe from 'stripe';
import { type CheckoutCreated, type CheckoutProvider, type CheckoutRequest, ProviderError } from './types.js';

export interface StripeClientOptions {
  secretKey: string;
  webhookSecret: string;
  /** API origin (default https://api.stripe.com); tests point it at a local server. */
  apiUrl: string;
  timeoutMs: number;
}

/** Stripe Checkout locales we use: Checkout has no Arabic, so `ar` falls back to the browser's language. */
const checkoutLocale = { fr: 'fr', en: 'en', ar: 'auto' } as const;

/** Seconds of tolerance on the Stripe-Signature timestamp: older events are refused as replays. */
export const STRIPE_SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * Stripe Checkout Sessions (EUR, USD) through the official `stripe` package, which takes host, port and protocol, so
 * tests reach a local server. Its own retries are off: a retried checkout creation goes through our idempotency key.
 */
export function createStripeClient(options: StripeClientOptions) {
  const url = new URL(options.apiUrl);
  const stripe = new Stripe(options.secretKey, {
    host: url.hostname,
    port: url.port || (url.protocol === 'http:' ? 80 : 443),
    protocol: url.protocol === 'http:' ? 'http' : 'https',
    timeout: options.timeoutMs,
    maxNetworkRetries: 0,
    telemetry: false,
  });

  async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const type = (error as { type?: string }).type;
      const status = (error as { statusCode?: number }).statusCode;
      throw new ProviderError('stripe', `${what} failed${status ? ` with ${status}` : ''}`, {
        ...(status ? { status } : {}),
        timedOut: type === 'StripeConnectionError' && /timed? ?out/i.test(String((error as Error).message)),
        cause: error,
      });
    }
  }

  const client: CheckoutProvider & {
    constructEvent(rawBody: Buffer, signature: string | undefined): Stripe.Event | undefined;
    retrievePaymentIntent(id: string): Promise<Stripe.PaymentIntent>;
    retrieveSession(id: string): Promise<Stripe.Checkout.Session>;
  } = {
    name: 'stripe',
    currencies: ['EUR', 'USD'],
    async createCheckout(request: CheckoutRequest): Promise<CheckoutCreated> {
      // Stripe accepts expiry between 30 minutes and 24 hours from now.
      const now = Math.floor(Date.now() / 1000);
      const expiresAt = Math.min(
        Math.max(Math.floor(request.expiresAt.getTime() / 1000), now + 1800),
        now + 86_400,
      );
      const session = await call('checkout session creation', () =>
        stripe.checkout.sessions.create(
          {
            mode: 'payment',
            line_items: [
              {
                quantity: 1,
                price_data: {
                  currency: request.currency.toLowerCase(),
                  unit_amount: request.amount,
                  product_data: { name: request.description },
                },
              },
            ],
            success_url: request.successUrl,
            cancel_url: request.failureUrl,
            client_reference_id: request.intentId,
            metadata: { intent_id: request.intentId },
            payment_intent_data: { metadata: { intent_id: request.intentId } },
            locale: checkoutLocale[request.locale],
            expires_at: expiresAt,
          },
          { idempotencyKey: `checkout-${request.intentId}` },
        ),
      );
      if (!session.url) throw new ProviderError('stripe', 'checkout session without url');
      return { providerRef: session.id, checkoutUrl: session.url };
    },
    async refund({ providerPaymentId, amount, idempotencyKey }) {
      const refund = await call('refund', () =>
        stripe.refunds.create({ payment_intent: providerPaymentId, amount }, { idempotencyKey }),
      );
      return { refundId: refund.id };
    },
    retrievePaymentIntent(id) {
      return call('payment intent lookup', () => stripe.paymentIntents.retrieve(id));
    },
    retrieveSession(id) {
      return call('checkout session lookup', () => stripe.checkout.sessions.retrieve(id));
    },
    /** The verified event, or undefined when the signature, its timestamp (±5 min) or the body is wrong. */
    constructEvent(rawBody, signature) {
      if (!signature) return undefined;
      try {
        return stripe.webhooks.constructEvent(
          rawBody,
          signature,
          options.webhookSecret,
          STRIPE_SIGNATURE_TOLERANCE_SECONDS,
        );
      } catch {
        return undefined;
      }
    },
  };
  return client;
}
export type StripeClient = ReturnType<typeof createStripeClient>;
