import type { FastifyInstance } from 'fastify';
import { publicUrl } from '../../config/env.js';
import { defaultPaymentsConfig, type PaymentsConfig } from './config.js';
import { type ChargilyClient, createChargilyClient } from './providers/chargily.js';
import { createPaypalClient, type PaypalClient } from './providers/paypal.js';
import { createStripeClient, type StripeClient } from './providers/stripe.js';
import { expireIntents } from './service.js';

export const EXPIRE_INTENTS_JOB = 'payments.expire-intents';

export interface PaymentProviders {
  chargily?: ChargilyClient;
  stripe?: StripeClient;
  paypal?: PaypalClient;
}

export interface PaymentsContext {
  /** Packs and bank details from webox.config.yaml (tests may replace it before the app is ready). */
  config: PaymentsConfig;
  /** The providers whose keys are configured; the others are not offered. */
  providers: PaymentProviders;
  /** Origin used in return and webhook URLs. */
  publicUrl: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    payments: PaymentsContext;
  }
}

export interface PaymentsPluginOptions {
  config?: PaymentsConfig | undefined;
  /** How often each process enqueues the expiry of unpaid intents (default 5 min; 0 turns it off). */
  expireEveryMs?: number;
}

/** Decorates `app.payments` with the configured providers and schedules the expiry of unpaid intents. */
export function registerPayments(app: FastifyInstance, options: PaymentsPluginOptions = {}): void {
  const { env } = app;
  const providers: PaymentProviders = {};
  if (env.CHARGILY_SECRET_KEY) {
    providers.chargily = createChargilyClient({
      secretKey: env.CHARGILY_SECRET_KEY,
      apiUrl: env.CHARGILY_API_URL,
      timeoutMs: env.PAYMENTS_TIMEOUT_MS,
    });
  }
  if (env.STRIPE_SECRET_KEY && env.STRIPE_WEBHOOK_SECRET) {
    providers.stripe = createStripeClient({
      secretKey: env.STRIPE_SECRET_KEY,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
      apiUrl: env.STRIPE_API_URL,
      timeoutMs: env.PAYMENTS_TIMEOUT_MS,
    });
  }
  if (env.PAYPAL_CLIENT_ID && env.PAYPAL_CLIENT_SECRET && env.PAYPAL_WEBHOOK_ID) {
    providers.paypal = createPaypalClient({
      clientId: env.PAYPAL_CLIENT_ID,
      clientSecret: env.PAYPAL_CLIENT_SECRET,
      webhookId: env.PAYPAL_WEBHOOK_ID,
      apiUrl: env.PAYPAL_API_URL,
      timeoutMs: env.PAYMENTS_TIMEOUT_MS,
    });
  }
  app.decorate('payments', {
    config: options.config ?? defaultPaymentsConfig,
    providers,
    publicUrl: publicUrl(env),
  } satisfies PaymentsContext);

  app.stores.jobs.register(EXPIRE_INTENTS_JOB, async () => {
    const expired = await expireIntents(app.db);
    if (expired > 0) app.log.info({ expired }, 'expired unpaid payment intents');
  });
  const every = options.expireEveryMs ?? 5 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  if (every > 0) {
    app.addHook('onReady', async () => {
      timer = setInterval(() => {
        const slot = Math.floor(Date.now() / every);
        app.stores.jobs
          .enqueue(EXPIRE_INTENTS_JOB, {}, { jobId: `expire-intents-${slot}` })
          .catch((error: unknown) => app.log.error({ err: error }, 'could not enqueue intent expiry'));
      }, every);
      timer.unref();
    });
  }
  app.addHook('onClose', async () => clearInterval(timer));
}
