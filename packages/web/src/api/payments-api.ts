import { numberLocaleOf } from '../i18n/languages';
import { apiRequest, errorOf, fetchWithSession } from './client';

export type PaymentProvider = 'chargily' | 'stripe' | 'paypal' | 'bank_transfer';
export type PaymentStatus =
  | 'created'
  | 'pending'
  | 'paid'
  | 'failed'
  | 'canceled'
  | 'expired'
  | 'partially_refunded'
  | 'refunded';

/** A credit pack; `prices` maps a currency to minor units (cents; whole dinars for DZD). */
export interface CreditPack {
  id: string;
  name: string;
  credits: number;
  prices: Record<string, number>;
}

export interface BankDetails {
  accountHolder: string;
  bankName: string;
  accountNumber: string;
  bic: string | null;
  instructions: string | null;
}

export interface PaymentOptions {
  packs: CreditPack[];
  methods: Array<{ provider: PaymentProvider; currencies: string[] }>;
  bankTransfer: BankDetails | null;
}

export interface PaymentIntent {
  id: string;
  purposeRef: string;
  credits: number;
  provider: PaymentProvider;
  currency: string;
  amount: number;
  status: PaymentStatus;
  checkoutUrl: string | null;
  bankReference: string | null;
  refundedAmount: number;
  chargedBackAmount: number;
  failureReason: string | null;
  receiptNumber: string | null;
  createdAt: string;
  paidAt: string | null;
  expiresAt: string | null;
}

export const paidStatuses: readonly PaymentStatus[] = ['paid', 'partially_refunded', 'refunded'];

export function fetchPaymentOptions(signal?: AbortSignal): Promise<PaymentOptions> {
  return apiRequest<PaymentOptions>('/api/payments/options', signal ? { signal } : {});
}

export function startPayment(body: {
  packId: string;
  currency: string;
  provider: PaymentProvider;
  locale: 'fr' | 'en' | 'ar';
}): Promise<PaymentIntent> {
  return apiRequest<PaymentIntent>('/api/payments/intents', { method: 'POST', body });
}

export async function fetchPayments(signal?: AbortSignal): Promise<PaymentIntent[]> {
  return (await apiRequest<{ intents: PaymentIntent[] }>('/api/payments/intents', signal ? { signal } : {}))
    .intents;
}

/** Asks the provider where the payment stands (the return pages call it: webhooks may never reach us). */
export function syncPayment(id: string): Promise<PaymentIntent & { outcome: string }> {
  return apiRequest(`/api/payments/intents/${encodeURIComponent(id)}/sync`, { method: 'POST' });
}

export function receiptUrl(id: string): string {
  return `/api/payments/intents/${encodeURIComponent(id)}/receipt.pdf`;
}

/** Sends the proof as the raw file (the server checks its type from its bytes). */
export async function uploadProof(id: string, file: File): Promise<void> {
  const response = await fetchWithSession(`/api/payments/intents/${encodeURIComponent(id)}/proof`, {
    method: 'PUT',
    headers: { 'content-type': file.type, accept: 'application/json' },
    body: file,
  });
  if (!response.ok) throw await errorOf(response);
}

/** Minor-unit exponent as the server counts it: Chargily counts DZD in whole dinars. */
const exponents: Record<string, number> = { DZD: 0 };

/**
 * Minor units written with the currency in the reader's interface language (the Algerian variant, so dinars read
 * 1 500 DA), without going through floating point.
 */
export function formatMinorUnits(amount: number, currency: string, language: string): string {
  const exponent = exponents[currency] ?? 2;
  const digits = String(Math.abs(amount)).padStart(exponent + 1, '0');
  const decimal = exponent
    ? `${amount < 0 ? '-' : ''}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`
    : String(amount);
  const format = new Intl.NumberFormat(numberLocaleOf(language), {
    style: 'currency',
    currency,
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  });
  // Intl formats a decimal string exactly (ES2023); the cast is for older lib typings.
  return format.format(decimal as unknown as number);
}
