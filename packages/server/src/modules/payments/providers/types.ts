import type { PaymentProvider } from '../tables.js';

/** What every checkout-based provider is asked to create for one intent. */
export interface CheckoutRequest {
  intentId: string;
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
  description: string;
  locale: 'ar' | 'fr' | 'en';
  successUrl: string;
  failureUrl: string;
  webhookUrl: string;
  expiresAt: Date;
}

export interface CheckoutCreated {
  /** The provider's id of the checkout, session or order. */
  providerRef: string;
  /** Where the buyer is sent to pay. */
  checkoutUrl: string;
}

/** One provider's API, as far as the payments service needs it. */
export interface CheckoutProvider {
  readonly name: Exclude<PaymentProvider, 'bank_transfer'>;
  readonly currencies: readonly string[];
  createCheckout(request: CheckoutRequest): Promise<CheckoutCreated>;
  /** Refunds `amount` minor units; answers the provider's refund id. Absent when the provider has no refund API. */
  refund?(options: {
    providerPaymentId: string;
    amount: number;
    currency: string;
    idempotencyKey: string;
  }): Promise<{ refundId: string }>;
}

/** A provider call that failed: carries no secret, only what can be logged. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    readonly provider: PaymentProvider,
    message: string,
    readonly options: { status?: number; timedOut?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
  }
}
