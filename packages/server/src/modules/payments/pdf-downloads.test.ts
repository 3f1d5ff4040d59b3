import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import type { TestApp } from '../../testing/test-app.js';
import { createSignedInAccount, type SignedInClient } from '../accounts/testing.js';
import { saveProof } from './bank-transfer.js';
import { createPaymentsTestApp, openBankTransfer, paidBankTransfer } from './testing/harness.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request over a real socket: what a browser or curl gets, the framing (length or chunks) included. */
function fetchRaw(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string> },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks),
          }),
        );
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** A whole PDF: its length announced and true, its first and last bytes those of a PDF file. */
function expectWholePdf(answer: Answer) {
  expect(answer.status, answer.body.toString().slice(0, 200)).toBe(200);
  expect(answer.headers['content-type']).toBe('application/pdf');
  expect(answer.headers['transfer-encoding']).toBeUndefined();
  expect(answer.headers['content-length']).toBe(String(answer.body.length));
  expect(answer.body.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  expect(answer.body.subarray(-6).toString('latin1')).toMatch(/%%EOF\n?$/);
}

/**
 * The PDFs built whole in memory (the receipt, a proof read back from the database) go out with their length, so a
 * browser shows the download's size and a connection cut short is seen as a broken file. HEAD answers with the same
 * length; Range is not offered, so a ranged request gets the whole file with its true length, never a wrong part.
 * (The studio's conversation export is the one PDF streamed, without a length: see the studio README.)
 */
for (const pair of backendPairs()) {
  describe(`PDF downloads on ${pair.name}`, () => {
    let harness: TestApp;
    let port: number;
    let buyer: SignedInClient;
    let receiptPath: string;

    beforeAll(async () => {
      harness = await createPaymentsTestApp(pair);
      await harness.app.listen({ host: '127.0.0.1', port: 0 });
      port = (harness.app.server.address() as AddressInfo).port;
      buyer = await createSignedInAccount(harness.app);
      const intent = await paidBankTransfer(harness.app, buyer.userId);
      receiptPath = `/api/payments/intents/${intent.id}/receipt.pdf`;
    });
    afterAll(() => harness?.close());

    it('sends a receipt with a Content-Length equal to its body, which is a PDF', async () => {
      const answer = await fetchRaw(port, { path: receiptPath, headers: buyer.headers });
      expectWholePdf(answer);
      expect(answer.headers['content-disposition']).toMatch(/^attachment; filename="WBX-\d{4}-\d{6}\.pdf"$/);
    });

    it('answers HEAD on a receipt with the same length and no body', async () => {
      const full = await fetchRaw(port, { path: receiptPath, headers: buyer.headers });
      const head = await fetchRaw(port, { method: 'HEAD', path: receiptPath, headers: buyer.headers });
      expect(head.status).toBe(200);
      expect(head.headers['content-type']).toBe('application/pdf');
      expect(full.headers['content-length']).toMatch(/^[1-9]\d*$/);
      expect(head.headers['content-length']).toBe(full.headers['content-length']);
      expect(head.body.length).toBe(0);
    });

    it('answers a Range request on a receipt with the whole file and its true length', async () => {
      const ranged = await fetchRaw(port, {
        path: receiptPath,
        headers: { ...buyer.headers, range: 'bytes=0-99' },
      });
      expectWholePdf(ranged);
      expect(ranged.headers['content-range']).toBeUndefined();
    });

    it('keeps a receipt its owner’s: anyone else gets the JSON 404, not a PDF', async () => {
      const stranger = await createSignedInAccount(harness.app);
      const answer = await fetchRaw(port, { path: receiptPath, headers: stranger.headers });
      expect(answer.status).toBe(404);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(answer.body.toString()).error.code).toBe('not_found');
    });

    it('sends an admin a PDF proof of transfer with its length, byte for byte as uploaded', async () => {
      const pdf = (await fetchRaw(port, { path: receiptPath, headers: buyer.headers })).body;
      const intent = await openBankTransfer(harness.app, buyer.userId);
      await saveProof(harness.app.db, {
        intentId: intent.id,
        userId: buyer.userId,
        declaredType: 'application/pdf',
        data: pdf,
      });
      const admin = await createSignedInAccount(harness.app, { role: 'admin' });
      const answer = await fetchRaw(port, {
        path: `/api/admin/payments/intents/${intent.id}/proof`,
        headers: admin.headers,
      });
      expectWholePdf(answer);
      expect(answer.body.equals(pdf)).toBe(true);
    });
  });
}
