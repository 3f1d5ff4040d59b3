import type { FastifyInstance } from 'fastify';
import type { MailLocale } from '../../mail/templates.js';
import { getAccount } from '../accounts/service.js';
import { formatMoney } from './money.js';
import { getIntent, getReceipt } from './service.js';

/** Emails the buyer that the payment is confirmed, with the link to the PDF receipt. */
export async function sendReceiptEmail(app: FastifyInstance, intentId: string): Promise<void> {
  const intent = await getIntent(app.db, intentId);
  const receipt = await getReceipt(app.db, intentId);
  if (!intent || !receipt) return;
  const account = await getAccount(app.db, intent.userId);
  await app.mailer.send({
    to: account.email,
    template: 'payment_receipt',
    locale: account.locale as MailLocale,
    data: {
      name: account.name,
      number: receipt.number,
      amount: formatMoney(intent.amount, intent.currency),
      credits: String(intent.credits),
      link: `${app.payments.publicUrl}/api/payments/intents/${intent.id}/receipt.pdf`,
    },
  });
}
