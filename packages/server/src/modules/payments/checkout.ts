import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import { ensureWallet } from '../billing/ledger.js';
import { getPack } from './packs.js';
import type { CheckoutProvider } from './providers/types.js';
import { ProviderError } from './providers/types.js';
import {
  closeUnpaidIntent,
  createIntent,
  isUniqueViolation,
  markIntentPending,
  type PaymentIntent,
} from './service.js';
import type { PaymentProvider } from './tables.js';

export type CheckoutLocale = 'ar' | 'fr' | 'en';

/** The providers offered right now, with their currencies (a provider without keys is not offered). */
export function paymentMethods(
  app: FastifyInstance,
): Array<{ provider: PaymentProvider; currencies: string[] }> {
  const methods: Array<{ provider: PaymentProvider; currencies: string[] }> = [];
  for (const client of Object.values(app.payments.providers) as CheckoutProvider[]) {
    methods.push({ provider: client.name, currencies: [...client.currencies] });
  }
  const bank = app.payments.config.bankTransfer;
  if (bank) methods.push({ provider: 'bank_transfer', currencies: [...bank.currencies] });
  return methods;
}

function checkoutProvider(app: FastifyInstance, provider: PaymentProvider): CheckoutProvider | undefined {
  if (provider === 'bank_transfer') return undefined;
  return app.payments.providers[provider as keyof typeof app.payments.providers] as
    | CheckoutProvider
    | undefined;
}

export interface StartPaymentOptions {
  userId: string;
  packId: string;
  currency: string;
  provider: PaymentProvider;
  locale: CheckoutLocale;
}

/**
 * Creates an intent for a credit pack and, for a checkout provider, the provider's checkout. When the provider fails
 * or times out the intent is closed as failed (it can never be paid) and the caller gets 502/504.
 */
export async function startPayment(
  app: FastifyInstance,
  options: StartPaymentOptions,
): Promise<PaymentIntent> {
  const { db } = app;
  const currency = options.currency.toUpperCase();
  const method = paymentMethods(app).find((candidate) => candidate.provider === options.provider);
  if (!method) throw new AppError('unprocessable', `Payment by ${options.provider} is not offered.`);
  if (!method.currencies.includes(currency)) {
    throw new AppError('unprocessable', `${options.provider} does not take ${currency}.`);
  }
  const pack = await getPack(db, app.payments.config.packs, options.packId);
  const amount = pack.prices[currency];
  if (!amount) throw new AppError('unprocessable', `The pack ${pack.id} has no price in ${currency}.`);

  const wallet = await ensureWallet(db, { ownerType: 'user', ownerId: options.userId });
  const bank = app.payments.config.bankTransfer;
  const ttlMs =
    options.provider === 'bank_transfer' && bank
      ? bank.ttlDays * 86_400_000
      : app.payments.config.checkoutTtlMinutes * 60_000;
  const expiresAt = new Date(Date.now() + ttlMs);
  let intent: PaymentIntent | undefined;
  for (let attempt = 0; !intent; attempt++) {
    try {
      intent = await createIntent(db, {
        userId: options.userId,
        walletId: wallet.id,
        purposeRef: pack.id,
        credits: pack.credits,
        provider: options.provider,
        currency,
        amount,
        locale: options.locale,
        expiresAt,
      });
    } catch (error) {
      // Only a bank reference can collide; a new one is drawn.
      if (!isUniqueViolation(error) || attempt >= 3) throw error;
    }
  }

  const client = checkoutProvider(app, options.provider);
  if (!client) {
    return markIntentPending(db, { intentId: intent.id, providerRef: intent.bankReference! });
  }
  const base = app.payments.publicUrl;
  try {
    const created = await client.createCheckout({
      intentId: intent.id,
      amount,
      currency,
      description: `WeBox — ${pack.name} (${pack.credits} credits)`,
      locale: options.locale,
      successUrl: `${base}/payments/${intent.id}/success`,
      failureUrl: `${base}/payments/${intent.id}/failure`,
      webhookUrl: `${base}/api/payments/webhooks/${client.name}`,
      expiresAt,
    });
    return await markIntentPending(db, {
      intentId: intent.id,
      providerRef: created.providerRef,
      checkoutUrl: created.checkoutUrl,
    });
  } catch (error) {
    const timedOut = error instanceof ProviderError && error.options.timedOut;
    const reason = error instanceof ProviderError ? error.message : 'checkout creation failed';
    app.log.warn({ intentId: intent.id, provider: client.name, reason }, 'payment checkout creation failed');
    await closeUnpaidIntent(db, { intentId: intent.id, to: 'failed', cause: 'system', reason });
    throw new AppError(
      timedOut ? 'upstream_timeout' : 'upstream_error',
      `${client.name} did not answer; nothing was charged. Try again or choose another method.`,
      { cause: error },
    );
  }
}
