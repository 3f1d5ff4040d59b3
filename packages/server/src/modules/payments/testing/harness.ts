import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { createTestApp, type TestApp } from '../../../testing/test-app.js';
import { users } from '../../accounts/tables.js';
import { type SignedInClient, signUpAndSignIn } from '../../accounts/testing.js';
import { ensureWallet, getBalance } from '../../billing/ledger.js';
import { type PaymentsConfig, paymentsConfigSchema } from '../config.js';
import { createIntent, settlePaidIntent } from '../service.js';

/** A made-up key of the given prefix, new each run: no real secret ever sits in the tests. */
export function madeUpKey(prefix: string): string {
  return `${prefix}${randomBytes(18).toString('hex')}`;
}

export const testPaymentsConfig: PaymentsConfig = paymentsConfigSchema.parse({
  packs: [
    { id: 'starter', name: 'Starter', credits: 100_000, prices: { DZD: 1000, EUR: 700, USD: 750 } },
    { id: 'pro', name: 'Pro', credits: 1_000_000, prices: { DZD: 9000, EUR: 6000 } },
  ],
  bankTransfer: {
    accountHolder: 'WeBox SARL',
    bankName: 'Banque Test',
    accountNumber: 'DZ00 0000 0000 0000 0000 00',
    currencies: ['DZD', 'EUR'],
  },
});

/** What a test talking to a fake provider sets beside the provider's own settings: a short timeout, a public URL. */
export const providerTestEnv = { PAYMENTS_TIMEOUT_MS: '1500', PUBLIC_URL: 'https://webox.test' } as const;

/** An app for payments tests: `env` (the providers' settings, if any) and the test packs of `testPaymentsConfig`. */
export function createPaymentsTestApp(
  pair: Parameters<typeof createTestApp>[0],
  env: Parameters<typeof createTestApp>[1] = {},
): Promise<TestApp> {
  return createTestApp(pair, env, {
    configure(instance) {
      instance.payments.config = testPaymentsConfig;
    },
  });
}

export async function balanceOf(app: FastifyInstance, userId: string): Promise<number> {
  const wallet = await ensureWallet(app.db, { ownerType: 'user', ownerId: userId });
  return (await getBalance(app.db, wallet.id)).balance;
}

/** A user's open bank transfer of 9000 DZD for the Pro pack's price in credits (9000), valid for a minute. */
export async function openBankTransfer(app: FastifyInstance, userId: string) {
  const wallet = await ensureWallet(app.db, { ownerType: 'user', ownerId: userId });
  return createIntent(app.db, {
    userId,
    walletId: wallet.id,
    purposeRef: 'pro',
    credits: 9000,
    provider: 'bank_transfer',
    currency: 'DZD',
    amount: 9000,
    locale: 'en',
    expiresAt: new Date(Date.now() + 60_000),
  });
}

/** `openBankTransfer`, then marked received by an admin: paid, its 9000 credits in the user's wallet. */
export async function paidBankTransfer(app: FastifyInstance, userId: string) {
  const intent = await openBankTransfer(app, userId);
  await settlePaidIntent(app.db, {
    intentId: intent.id,
    amount: 9000,
    currency: 'DZD',
    cause: 'admin',
    timeZone: 'Africa/Algiers',
  });
  return intent;
}

export async function makeAdmin(app: FastifyInstance): Promise<SignedInClient> {
  const client = await signUpAndSignIn(app);
  await app.db.update(users).set({ role: 'admin' }).where(eq(users.id, client.userId));
  return client;
}
