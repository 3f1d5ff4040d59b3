import { inflateSync } from 'node:zlib';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { auditEvents } from '../accounts/tables.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { ensureWallet, MAX_CREDITS_PER_ENTRY, postEntry, verifyLedger } from '../billing/ledger.js';
import { applyRefund, createIntent, getReceipt, settlePaidIntent } from './service.js';
import { balanceOf, createPaymentsTestApp, makeAdmin } from './testing/harness.js';

const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(64, 1),
]);

/**
 * The text a pdfkit PDF shows: its content streams inflated, the hex strings of their TJ operators decoded, one line
 * per operator (a label and its value, written as two pieces, come as two lines).
 */
function pdfText(pdf: Buffer): string {
  const raw = pdf.toString('latin1');
  let text = '';
  for (const match of raw.matchAll(/stream\r?\n/g)) {
    const start = match.index + match[0].length;
    const end = raw.indexOf('endstream', start);
    let content: string;
    try {
      content = inflateSync(pdf.subarray(start, end)).toString('latin1');
    } catch {
      continue;
    }
    for (const line of content.matchAll(/\[(.*?)\] TJ/g)) {
      for (const hex of line[1]!.matchAll(/<([0-9a-f]*)>/gi))
        text += Buffer.from(hex[1]!, 'hex').toString('latin1');
      text += '\n';
    }
  }
  return text;
}

for (const pair of backendPairs()) {
  describe(`bank transfer, receipts and refunds on ${pair.name}`, () => {
    let harness: TestApp;
    let buyer: SignedInClient;
    let admin: SignedInClient;
    const app = () => harness.app;

    beforeAll(async () => {
      harness = await createPaymentsTestApp(pair);
      buyer = await signUpAndSignIn(harness.app);
      admin = await makeAdmin(harness.app);
    });
    afterAll(async () => harness?.close());

    it('refuses a pack of more credits than one entry may name, so none is sold that could not be credited', async () => {
      const save = (credits: number) =>
        app().inject({
          method: 'PUT',
          url: '/api/admin/payments/packs/huge',
          headers: admin.headers,
          payload: { name: 'Huge', credits, prices: { DZD: 1000 } },
        });
      const refused = await save(Number.MAX_SAFE_INTEGER);
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json().error.details).toContainEqual(expect.objectContaining({ path: 'body.credits' }));
      const packs = await app().inject({ url: '/api/admin/payments/packs', headers: admin.headers });
      expect(packs.json().packs.map((pack: { id: string }) => pack.id)).not.toContain('huge');
      expect((await save(MAX_CREDITS_PER_ENTRY)).statusCode).toBe(200);
    });

    async function startTransfer(client: SignedInClient) {
      const response = await app().inject({
        method: 'POST',
        url: '/api/payments/intents',
        headers: client.headers,
        payload: { packId: 'pro', currency: 'DZD', provider: 'bank_transfer' },
      });
      expect(response.statusCode, response.body).toBe(201);
      return response.json();
    }

    it('gives a unique reference and the bank details; the buyer uploads a proof; an admin confirms once', async () => {
      const options = await app().inject({ url: '/api/payments/options', headers: buyer.headers });
      expect(options.json().bankTransfer).toMatchObject({
        accountHolder: 'WeBox SARL',
        bankName: 'Banque Test',
      });
      const intent = await startTransfer(buyer);
      const other = await startTransfer(buyer);
      expect(intent).toMatchObject({
        status: 'pending',
        amount: 9000,
        bankReference: expect.stringMatching(/^WBX-/),
      });
      expect(other.bankReference).not.toBe(intent.bankReference);

      const upload = (contentType: string, payload: Buffer, client = buyer) =>
        app().inject({
          method: 'PUT',
          url: `/api/payments/intents/${intent.id}/proof`,
          headers: { ...client.headers, 'content-type': contentType },
          payload,
        });
      expect((await upload('image/png', Buffer.from('<html>not an image</html>'))).statusCode).toBe(415);
      expect((await upload('application/pdf', png)).statusCode).toBe(415);
      expect((await upload('text/plain', Buffer.from('hello'))).statusCode).toBe(415);
      expect(
        (await upload('image/png', Buffer.concat([png, Buffer.alloc(2 * 1024 * 1024)]))).statusCode,
      ).toBe(413);
      expect((await upload('image/png', png, admin)).statusCode).toBe(404);
      const saved = await upload('image/png', png);
      expect(saved.statusCode, saved.body).toBe(201);

      // Only admins confirm, and only the exact amount.
      const confirm = (client: SignedInClient, amount: number) =>
        app().inject({
          method: 'POST',
          url: `/api/admin/payments/intents/${intent.id}/confirm-transfer`,
          headers: client.headers,
          payload: { amount, currency: 'DZD', note: 'seen on statement' },
        });
      expect((await confirm(buyer, 9000)).statusCode).toBe(403);
      expect((await confirm(admin, 8000)).statusCode).toBe(422);
      const proof = await app().inject({
        url: `/api/admin/payments/intents/${intent.id}/proof`,
        headers: admin.headers,
      });
      expect(proof.statusCode).toBe(200);
      expect(proof.rawPayload.equals(png)).toBe(true);

      const confirmed = await confirm(admin, 9000);
      expect(confirmed.statusCode, confirmed.body).toBe(200);
      expect(confirmed.json()).toMatchObject({ outcome: 'paid', intent: { status: 'paid' } });
      expect((await confirm(admin, 9000)).json().outcome).toBe('already_paid');
      expect(await balanceOf(app(), buyer.userId)).toBe(1_000_000);

      const detail = await app().inject({
        url: `/api/admin/payments/intents/${intent.id}`,
        headers: admin.headers,
      });
      const paid = detail.json().events.find((event: { toStatus: string }) => event.toStatus === 'paid');
      expect(paid).toMatchObject({ cause: 'admin', actorId: admin.userId });
    });

    it('pays once and audits once, naming the admin, when a confirmation is submitted four times at once', async () => {
      const client = await signUpAndSignIn(app());
      const intent = await startTransfer(client);
      const confirm = () =>
        app().inject({
          method: 'POST',
          url: `/api/admin/payments/intents/${intent.id}/confirm-transfer`,
          headers: admin.headers,
          payload: { amount: 9000, currency: 'DZD' },
        });
      const responses = await Promise.all([confirm(), confirm(), confirm(), confirm()]);
      expect(responses.map((response) => response.statusCode)).toEqual([200, 200, 200, 200]);
      expect(responses.map((response) => response.json().outcome).sort()).toEqual([
        'already_paid',
        'already_paid',
        'already_paid',
        'paid',
      ]);
      expect(await balanceOf(app(), client.userId)).toBe(1_000_000);
      const audited = await app()
        .db.select()
        .from(auditEvents)
        .where(
          and(eq(auditEvents.type, 'payment.transfer_confirmed'), eq(auditEvents.userId, client.userId)),
        );
      expect(audited).toEqual([expect.objectContaining({ actorId: admin.userId })]);
      expect(await verifyLedger(app().db)).toEqual([]);
    });

    it('numbers and dates a receipt in the business time zone: 00:30 on 1 January in Algiers is the new year', async () => {
      const numberAt = async (utc: string) => {
        const intent = await startTransfer(buyer);
        // Only the clock the server reads moves; timers and the database keep real time. The admin signs in at that
        // time too, or the access token would be from the future.
        vi.useFakeTimers({ toFake: ['Date'], now: new Date(utc) });
        try {
          const admin = await makeAdmin(app());
          const confirmed = await app().inject({
            method: 'POST',
            url: `/api/admin/payments/intents/${intent.id}/confirm-transfer`,
            headers: admin.headers,
            payload: { amount: 9000, currency: 'DZD' },
          });
          expect(confirmed.statusCode, confirmed.body).toBe(200);
        } finally {
          vi.useRealTimers();
        }
        const view = await app().inject({
          url: `/api/payments/intents/${intent.id}`,
          headers: buyer.headers,
        });
        const pdf = await app().inject({
          url: `/api/payments/intents/${intent.id}/receipt.pdf`,
          headers: buyer.headers,
        });
        expect(pdf.statusCode).toBe(200);
        return { number: view.json().receiptNumber as string, text: pdfText(pdf.rawPayload) };
      };
      // 23:30 UTC on 31 December 2024 is 00:30 on 1 January 2025 in Algiers (UTC+1, no daylight saving).
      const newYear = await numberAt('2024-12-31T23:30:00Z');
      expect(newYear.number).toMatch(/^WBX-2025-\d{6}$/);
      expect(newYear.text).toContain(`Receipt ${newYear.number}`);
      expect(newYear.text).toMatch(/Date: \s*2025-01-01\n/);
      // A minute before midnight there, it is still 2024.
      const oldYear = await numberAt('2024-12-31T22:59:00Z');
      expect(oldYear.number).toMatch(/^WBX-2024-\d{6}$/);
      expect(oldYear.text).toMatch(/Date: \s*2024-12-31\n/);
    });

    it('numbers receipts per year without gaps or repeats under concurrent payments', async () => {
      const client = await signUpAndSignIn(app());
      const wallet = await ensureWallet(app().db, { ownerType: 'user', ownerId: client.userId });
      const intents = await Promise.all(
        Array.from({ length: 8 }, () =>
          createIntent(app().db, {
            userId: client.userId,
            walletId: wallet.id,
            purposeRef: 'starter',
            credits: 10,
            provider: 'bank_transfer',
            currency: 'DZD',
            amount: 100,
            locale: 'en',
            expiresAt: new Date(Date.now() + 60_000),
          }),
        ),
      );
      await Promise.all(
        intents.map((intent) =>
          settlePaidIntent(app().db, {
            intentId: intent.id,
            amount: 100,
            currency: 'DZD',
            cause: 'admin',
            timeZone: 'Africa/Algiers',
          }),
        ),
      );
      const numbers = await Promise.all(
        intents.map(async (intent) => (await getReceipt(app().db, intent.id))!),
      );
      const sequences = numbers.map((receipt) => receipt.sequence).sort((a, b) => a - b);
      for (let index = 1; index < sequences.length; index++)
        expect(sequences[index]).toBe(sequences[index - 1]! + 1);
      expect(new Set(numbers.map((receipt) => receipt.number)).size).toBe(8);
      expect(await balanceOf(app(), client.userId)).toBe(80);
    });

    it('refunds pro rata, never below what is already spent, and only once per refunded total', async () => {
      const client = await signUpAndSignIn(app());
      const wallet = await ensureWallet(app().db, { ownerType: 'user', ownerId: client.userId });
      const intent = await createIntent(app().db, {
        userId: client.userId,
        walletId: wallet.id,
        purposeRef: 'starter',
        credits: 1000,
        provider: 'bank_transfer',
        currency: 'EUR',
        amount: 1000,
        locale: 'en',
        expiresAt: new Date(Date.now() + 60_000),
      });
      expect(
        (await applyRefund(app().db, { intentId: intent.id, refundedTotal: 1000, cause: 'admin' })).kind,
      ).toBe('not_paid');
      await settlePaidIntent(app().db, {
        intentId: intent.id,
        amount: 1000,
        currency: 'EUR',
        cause: 'admin',
        timeZone: 'Africa/Algiers',
      });
      // 30% refunded: 300 credits come back.
      const partial = await applyRefund(app().db, {
        intentId: intent.id,
        refundedTotal: 300,
        cause: 'admin',
      });
      expect(partial).toMatchObject({ kind: 'refunded', creditsReversed: 300, creditsUncollected: 0 });
      expect(
        (await applyRefund(app().db, { intentId: intent.id, refundedTotal: 300, cause: 'admin' })).kind,
      ).toBe('already_applied');
      // The buyer spends 600 of the remaining 700; the full refund can only take back the 100 left.
      await postEntry(app().db, {
        walletId: wallet.id,
        kind: 'usage',
        amount: -600,
        idempotencyKey: `spend-${intent.id}`,
      });
      const full = await applyRefund(app().db, { intentId: intent.id, refundedTotal: 1000, cause: 'admin' });
      expect(full).toMatchObject({ kind: 'refunded', creditsReversed: 100, creditsUncollected: 600 });
      expect(full.kind === 'refunded' && full.intent.status).toBe('refunded');
      expect(await balanceOf(app(), client.userId)).toBe(0);
      expect(await verifyLedger(app().db)).toEqual([]);
    });
  });
}
