import PDFDocument from 'pdfkit';
import { localDate } from '../billing/periods.js';
import { formatMoney } from './money.js';
import type { PaymentIntent } from './service.js';

export interface ReceiptData {
  number: string;
  issuedAt: Date;
  intent: PaymentIntent;
  buyer: { name: string; email: string };
  packName: string;
  /** IANA zone the receipt is dated in, the one its number's year was taken in (`BILLING_TIME_ZONE`). */
  timeZone: string;
}

const providerNames: Record<PaymentIntent['provider'], string> = {
  chargily: 'Chargily Pay (EDAHABIA / CIB)',
  stripe: 'Card (Stripe)',
  paypal: 'PayPal',
  bank_transfer: 'Bank transfer',
};

/** Renders a one-page PDF receipt. Latin text only (the built-in Helvetica); names outside it are transliterated by the viewer. */
export function renderReceiptPdf(data: ReceiptData): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const document = new PDFDocument({
      size: 'A4',
      margin: 56,
      info: { Title: `Receipt ${data.number}`, Author: 'WeBox' },
    });
    const chunks: Buffer[] = [];
    document.on('data', (chunk: Buffer) => chunks.push(chunk));
    document.on('end', () => resolve(Buffer.concat(chunks)));
    document.on('error', reject);

    const { intent } = data;
    document.fontSize(22).text('WeBox', { continued: false });
    document.moveDown(0.5).fontSize(16).text(`Receipt ${data.number}`);
    document.moveDown().fontSize(11);
    const rows: Array<[string, string]> = [
      ['Date', localDate(data.issuedAt, data.timeZone)],
      ['Billed to', `${data.buyer.name || data.buyer.email} <${data.buyer.email}>`],
      ['Item', `${data.packName}: ${intent.credits} credits`],
      ['Amount paid', formatMoney(intent.amount, intent.currency)],
      ['Payment method', providerNames[intent.provider]],
      ['Payment id', intent.id],
    ];
    if (intent.refundedAmount > 0)
      rows.push(['Refunded', formatMoney(intent.refundedAmount, intent.currency)]);
    if (intent.chargedBackAmount > 0)
      rows.push(['Charged back', formatMoney(intent.chargedBackAmount, intent.currency)]);
    for (const [label, value] of rows) {
      document.font('Helvetica-Bold').text(`${label}: `, { continued: true }).font('Helvetica').text(value);
    }
    document
      .moveDown(2)
      .fontSize(9)
      .fillColor('#555')
      .text('Thank you for your purchase. Credits do not expire.');
    document.end();
  });
}
