import { z } from 'zod';
import { MAX_CREDITS_PER_ENTRY } from '../billing/ledger.js';

const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as DZD or EUR');

/** A credit pack: `prices` maps each currency to its amount in minor units (cents; whole dinars for DZD). */
export const creditPackSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'lower-case letters, digits, - or _'),
  name: z.string().trim().min(1).max(80),
  credits: z.number().int().positive().max(MAX_CREDITS_PER_ENTRY),
  prices: z.record(currencyCode, z.number().int().positive().max(1_000_000_000)),
  active: z.boolean().default(true),
});
export type CreditPack = z.output<typeof creditPackSchema>;

/** The `payments:` section of webox.config.yaml. Provider keys stay in the environment. */
export const paymentsConfigSchema = z.object({
  packs: z.array(creditPackSchema).default([]),
  /** Minutes a checkout may stay unpaid before the intent counts as expired (default 60). */
  checkoutTtlMinutes: z
    .number()
    .int()
    .min(5)
    .max(7 * 24 * 60)
    .default(60),
  /**
   * Offered when present with an account number: the account the buyer transfers to. An empty account number (an
   * unset `${BANK_ACCOUNT_NUMBER:-}` in the config file) turns the bank transfer off rather than stopping the boot.
   */
  bankTransfer: z.preprocess(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      String((value as { accountNumber?: unknown }).accountNumber ?? '').trim() === ''
        ? undefined
        : value,
    z
      .object({
        accountHolder: z.string().trim().min(1),
        bankName: z.string().trim().min(1),
        /** IBAN, RIB or CCP number, shown as written. */
        accountNumber: z.string().trim().min(1),
        currencies: z.array(currencyCode).min(1).default(['DZD']),
        /** Days the buyer has to transfer before the intent expires (default 14). */
        ttlDays: z.number().int().min(1).max(90).default(14),
        instructions: z
          .string()
          .trim()
          .optional()
          .transform((text) => text || undefined),
        bic: z
          .string()
          .trim()
          .optional()
          .transform((text) => text || undefined),
      })
      .optional(),
  ),
});
export type PaymentsConfig = z.output<typeof paymentsConfigSchema>;

export const defaultPaymentsConfig: PaymentsConfig = paymentsConfigSchema.parse({});
