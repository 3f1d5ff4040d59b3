import { desc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { getIntent, recordIntentEvent, type SettleOutcome, settlePaidIntent } from './service.js';
import { paymentProofs } from './tables.js';

/** Largest proof accepted (a phone photo of a transfer slip, or its PDF). */
export const MAX_PROOF_BYTES = 2 * 1024 * 1024;
export const proofContentTypes = ['image/png', 'image/jpeg', 'application/pdf'] as const;
export type ProofContentType = (typeof proofContentTypes)[number];

/** Checks the bytes, not the declared type: a file must start with the signature of its type. */
export function proofTypeOf(data: Buffer): ProofContentType | undefined {
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return 'image/png';
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  return undefined;
}

export async function saveProof(
  db: Database,
  options: { intentId: string; userId: string; declaredType: string; data: Buffer },
): Promise<{ id: string; contentType: ProofContentType; size: number }> {
  const intent = await getIntent(db, options.intentId);
  if (!intent || intent.userId !== options.userId) throw new AppError('not_found', 'No such payment.');
  if (intent.provider !== 'bank_transfer') {
    throw new AppError('unprocessable', 'Only bank transfers take a proof of payment.');
  }
  if (intent.status !== 'pending' && intent.status !== 'created') {
    throw new AppError('conflict', `This payment is ${intent.status}.`);
  }
  if (options.data.length === 0) throw new AppError('validation_failed', 'The proof is empty.');
  if (options.data.length > MAX_PROOF_BYTES)
    throw new AppError('payload_too_large', 'The proof is larger than 2 MB.');
  const contentType = proofTypeOf(options.data);
  if (!contentType || contentType !== options.declaredType) {
    throw new AppError('unsupported_media_type', 'The proof must be a PNG, JPEG or PDF file.');
  }
  const [row] = await db
    .insert(paymentProofs)
    .values({ intentId: intent.id, contentType, size: options.data.length, data: options.data })
    .returning({ id: paymentProofs.id });
  await recordIntentEvent(db, {
    intentId: intent.id,
    type: 'proof_uploaded',
    cause: 'buyer',
    actorId: options.userId,
    details: { proofId: row!.id, contentType, size: options.data.length },
  });
  return { id: row!.id, contentType, size: options.data.length };
}

export async function latestProof(db: Database, intentId: string) {
  const [row] = await db
    .select()
    .from(paymentProofs)
    .where(eq(paymentProofs.intentId, intentId))
    .orderBy(desc(paymentProofs.createdAt))
    .limit(1);
  return row;
}

/**
 * An admin saw the money arrive: the intent is paid with the amount the admin states having received, which must
 * equal the intent's (a short transfer is not confirmed; the admin contacts the buyer instead).
 */
export async function confirmBankTransfer(
  db: Database,
  options: {
    intentId: string;
    adminId: string;
    amount: number;
    currency: string;
    note?: string | undefined;
    /** The business time zone the receipt is numbered in (`BILLING_TIME_ZONE`). */
    timeZone: string;
  },
): Promise<SettleOutcome> {
  const intent = await getIntent(db, options.intentId);
  if (!intent) throw new AppError('not_found', 'No such payment.');
  if (intent.provider !== 'bank_transfer')
    throw new AppError('unprocessable', 'This is not a bank transfer.');
  return settlePaidIntent(db, {
    intentId: intent.id,
    amount: options.amount,
    currency: options.currency,
    cause: 'admin',
    actorId: options.adminId,
    details: options.note ? { note: options.note } : {},
    timeZone: options.timeZone,
  });
}
