import { makePdf } from '@webox/gateway/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { fakeCompletion, type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import { getBalance, postEntry } from '../billing/index.js';
import { renewPlans, setWalletPlan } from '../billing/plans.js';

/**
 * The hold must cover everything the upstream may generate for a call as it is sent: a thinking budget an adapter
 * adds, every one of `n` choices, token-array embeddings. Each case here got an answer past a wallet that could not
 * pay for it before. And a body OpenAI takes is served: its null fields read as absent, for the hold as upstream, and
 * the held cap goes under the name the client gave it.
 */
for (const pair of backendPairs()) {
  describe(`/v1 holds the worst case of what is sent on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let walletId: string;
    let key: string;
    let price: (model: string, inputTokens: number, outputTokens: number) => number;

    beforeAll(async () => {
      harness = await startGatewayHarness(pair, {
        metering: 'ledger',
        config: ({ primary }) => ({
          providers: {
            primary: {
              type: 'openai-compatible',
              baseUrl: `${primary}/v1`,
              keys: ['test-primary-key'],
              allowPrivateNetwork: true,
            },
            // OpenAI itself, which reads max_tokens and max_completion_tokens as sent.
            openai: {
              type: 'openai-compatible',
              preset: 'openai',
              baseUrl: `${primary}/v1`,
              keys: ['test-openai-key'],
              allowPrivateNetwork: true,
            },
            claude: {
              type: 'anthropic',
              baseUrl: primary,
              keys: ['test-anthropic-key'],
              allowPrivateNetwork: true,
            },
            google: {
              type: 'gemini',
              baseUrl: primary,
              keys: ['test-gemini-key'],
              allowPrivateNetwork: true,
            },
          },
          models: {
            'gpt-test': {
              provider: 'primary',
              model: 'gpt-4o-mini',
              contextWindow: 128_000,
              maxOutputTokens: 16_384,
              price: { inputPerMillion: 150_000, outputPerMillion: 600_000 },
            },
            'reasoner-test': {
              provider: 'openai',
              model: 'o4-mini',
              contextWindow: 200_000,
              maxOutputTokens: 100_000,
              price: { inputPerMillion: 1_100_000, outputPerMillion: 4_400_000 },
            },
            'claude-test': {
              provider: 'claude',
              model: 'claude-sonnet-4-5',
              contextWindow: 200_000,
              maxOutputTokens: 64_000,
              price: { inputPerMillion: 3_000_000, outputPerMillion: 15_000_000 },
            },
            'gemini-test': {
              provider: 'google',
              model: 'gemini-2.5-flash',
              contextWindow: 1_048_576,
              maxOutputTokens: 65_536,
              price: { inputPerMillion: 300_000, outputPerMillion: 2_500_000 },
            },
            'embed-test': {
              provider: 'primary',
              model: 'text-embedding-3-small',
              contextWindow: 8_191,
              capabilities: ['embeddings'],
              price: { inputPerMillion: 20_000, outputPerMillion: 0 },
            },
          },
          routes: {},
        }),
      });
      walletId = (await harness.app.billing.userWallet(harness.userId)).id;
      await setWalletPlan(harness.database.db, { walletId, plan: 'pro' });
      await renewPlans(harness.database.db, { timeZone: harness.app.billing.timeZone });
      key = await harness.createKey();
      const book = await harness.app.billing.prices.get();
      price = (model, inputTokens, outputTokens) =>
        book.priceUsage({
          model,
          usage: { inputTokens, outputTokens, cachedInputTokens: 0 },
          plan: { priceMultiplierPermille: 1000 },
        }).credits;
    });
    afterAll(() => harness.close());
    beforeEach(() => {
      harness.primary.requests.length = 0;
      harness.primary.setHandler(() => fakeCompletion());
    });

    async function fund(credits: number) {
      const { available } = await getBalance(harness.database.db, walletId);
      if (credits === available) return;
      await postEntry(harness.database.db, {
        walletId,
        kind: 'adjustment',
        amount: credits - available,
        reason: 'test funding',
        idempotencyKey: `test-fund-${Math.random()}`,
      });
    }

    const post = (path: string, body: unknown) =>
      fetch(`${harness.origin}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const upstreamBody = (index = 0) => harness.primary.requests[index]?.body as Record<string, unknown>;
    /** "Hi" and one image_url part; 10 prompt tokens before the part, and 10 for the answer. */
    const withPart = (model: string, url: string) => ({
      model,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi' },
            { type: 'image_url', image_url: { url } },
          ],
        },
      ],
      max_tokens: 10,
    });
    /** Claude's answer, billing `inputTokens` and `outputTokens`. */
    const claudeAnswer =
      (inputTokens: number, outputTokens: number, stopReason = 'end_turn') =>
      () => ({
        kind: 'json' as const,
        body: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [{ type: 'text', text: 'ok' }],
          stop_reason: stopReason,
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: outputTokens },
        },
      });
    /** Gemini's answer, billing `promptTokens` and 10 for the answer. */
    const geminiAnswer = (promptTokens: number) => () => ({
      kind: 'json' as const,
      body: {
        candidates: [{ content: { parts: [{ text: 'ok' }], role: 'model' }, finishReason: 'STOP' }],
        usageMetadata: {
          promptTokenCount: promptTokens,
          candidatesTokenCount: 10,
          totalTokenCount: promptTokens + 10,
        },
        modelVersion: 'gemini-2.5-flash',
      },
    });

    it('holds the thinking budget the Anthropic adapter adds to max_tokens', async () => {
      // "Hi" holds 10 prompt tokens; 10 for the answer and 16,384 for thinking at reasoning_effort high.
      const request = {
        model: 'claude-test',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 10,
        reasoning_effort: 'high',
      };
      await fund(price('claude-test', 10, 10));
      const refused = await post('/v1/chat/completions', request);
      expect(refused.status).toBe(402);
      expect(harness.primary.requests).toHaveLength(0);

      const worstCase = price('claude-test', 10, 16_394);
      await fund(worstCase);
      harness.primary.setHandler(claudeAnswer(10, 16_394, 'max_tokens'));
      const served = await post('/v1/chat/completions', request);
      expect(served.status).toBe(200);
      expect(upstreamBody()).toMatchObject({ max_tokens: 16_394, thinking: { budget_tokens: 16_384 } });
      expect(Number(served.headers.get('x-webox-credits-charged'))).toBe(worstCase);
      expect(await getBalance(harness.database.db, walletId)).toMatchObject({ balance: 0, held: 0 });
    });

    it('holds an image as the most its provider documents: 4,800 tokens on Claude, 48,169 on OpenAI', async () => {
      const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
      const request = (model: string) => ({
        model,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }, image] }],
        max_tokens: 10,
      });
      // 8 for the message and 2 bytes of text, then the image; 10 for the answer.
      const claudeWorstCase = price('claude-test', 10 + 4_800, 10);
      // A wallet the one bound for every provider refused.
      expect(claudeWorstCase).toBeLessThan(price('claude-test', 10 + 48_169, 10));
      await fund(claudeWorstCase - 1);
      const short = await post('/v1/chat/completions', request('claude-test'));
      expect(short.status).toBe(402);
      expect(harness.primary.requests).toHaveLength(0);

      await fund(claudeWorstCase);
      harness.primary.setHandler(claudeAnswer(1_600, 10));
      const served = await post('/v1/chat/completions', request('claude-test'));
      expect(served.status).toBe(200);
      expect(Number(served.headers.get('x-webox-credits-charged'))).toBe(price('claude-test', 1_600, 10));
      // /v1/messages holds the same.
      await fund(claudeWorstCase);
      const messages = await post('/v1/messages', {
        model: 'claude-test',
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Hi' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            ],
          },
        ],
      });
      expect(messages.status).toBe(200);
      expect(harness.primary.requests).toHaveLength(2);

      // OpenAI bills gpt-4o-mini up to 48,169 tokens for one image: a wallet short of that is still refused.
      const openAIWorstCase = price('reasoner-test', 10 + 48_169, 10);
      await fund(openAIWorstCase - 1);
      const refused = await post('/v1/chat/completions', request('reasoner-test'));
      expect(refused.status).toBe(402);
      expect(harness.primary.requests).toHaveLength(2);
      await fund(openAIWorstCase);
      harness.primary.setHandler(() => fakeCompletion({ prompt: 48_179, completion: 10 }));
      const openAI = await post('/v1/chat/completions', request('reasoner-test'));
      expect(openAI.status).toBe(200);
      expect(Number(openAI.headers.get('x-webox-credits-charged'))).toBe(openAIWorstCase);
    });

    it('holds a PDF sent to Gemini as the pages it may bill, where an image on the same wallet is served', async () => {
      const request = (url: string) => withPart('gemini-test', url);
      // 8 for the message and 2 bytes of text, then the part; 10 for the answer. Gemini bills a PDF by the page, up to
      // 1,000 pages of 560 tokens: far above what one image is held at.
      const imageWorstCase = price('gemini-test', 10 + 48_169, 10);
      const pdfWorstCase = price('gemini-test', 10 + 560_000, 10);
      expect(imageWorstCase).toBeLessThan(pdfWorstCase);
      await fund(pdfWorstCase - 1);
      const pdf = request('data:application/pdf;base64,JVBERi0xLjQK');
      const refused = await post('/v1/chat/completions', pdf);
      expect(refused.status).toBe(402);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('insufficient_credits');
      expect(harness.primary.requests).toHaveLength(0);
      expect(await getBalance(harness.database.db, walletId)).toMatchObject({ held: 0 });

      harness.primary.setHandler(geminiAnswer(260));
      const image = await post('/v1/chat/completions', request('data:image/png;base64,iVBORw0KGgo='));
      expect(image.status).toBe(200);
      expect(Number(image.headers.get('x-webox-credits-charged'))).toBe(price('gemini-test', 260, 10));
      expect(harness.primary.requests).toHaveLength(1);

      // A wallet that covers the PDF's pages is served, the PDF sent inline as it came.
      await fund(pdfWorstCase);
      const served = await post('/v1/chat/completions', pdf);
      expect(served.status).toBe(200);
      const contents = upstreamBody(1).contents as Array<{ parts: Array<Record<string, unknown>> }>;
      expect(contents[0]!.parts[1]).toEqual({
        inlineData: { mimeType: 'application/pdf', data: 'JVBERi0xLjQK' },
      });
    });

    it('takes a PDF in an Anthropic document block on /v1/messages: held as a PDF, a document to Claude, inline data to Gemini', async () => {
      const pdf = { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' };
      const message = (model: string, document: Record<string, unknown>) => ({
        model,
        max_tokens: 10,
        messages: [{ role: 'user', content: [document, { type: 'text', text: 'Hi' }] }],
      });
      // Held as the same PDF in an image_url part is on Gemini: 1,000 pages of 560 tokens, not one image.
      const pdfWorstCase = price('gemini-test', 10 + 560_000, 10);
      await fund(pdfWorstCase - 1);
      const refused = await post('/v1/messages', message('gemini-test', { type: 'document', source: pdf }));
      expect(refused.status).toBe(402);
      expect(harness.primary.requests).toHaveLength(0);

      await fund(pdfWorstCase);
      harness.primary.setHandler(geminiAnswer(260));
      const gemini = await post('/v1/messages', message('gemini-test', { type: 'document', source: pdf }));
      expect(gemini.status).toBe(200);
      expect(await gemini.json()).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'ok' }] });
      const contents = upstreamBody(0).contents as Array<{ parts: Array<Record<string, unknown>> }>;
      expect(contents[0]!.parts).toEqual([
        { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0xLjQK' } },
        { text: 'Hi' },
      ]);

      // Claude gets it back as the document block it was, inline or as a link.
      await fund(price('claude-test', 200_000, 10));
      harness.primary.setHandler(claudeAnswer(2_400, 10));
      const claude = await post('/v1/messages', message('claude-test', { type: 'document', source: pdf }));
      expect(claude.status).toBe(200);
      const link = 'https://example.com/paper.pdf';
      await fund(price('claude-test', 200_000, 10));
      const linked = await post(
        '/v1/messages',
        message('claude-test', { type: 'document', source: { type: 'url', url: link } }),
      );
      expect(linked.status).toBe(200);
      const sent = [1, 2].map((index) => (upstreamBody(index).messages as Array<{ content: unknown[] }>)[0]!);
      expect(sent.map((turn) => turn.content[0])).toEqual([
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } },
        { type: 'document', source: { type: 'url', url: link } },
      ]);

      // Citations no provider but Anthropic returns are refused in Anthropic's error shape, nothing held or sent.
      const cited = await post(
        '/v1/messages',
        message('claude-test', { type: 'document', source: pdf, citations: { enabled: true } }),
      );
      expect(cited.status).toBe(400);
      expect(await cited.json()).toMatchObject({
        type: 'error',
        error: { type: 'invalid_request_error', param: 'messages.0.content.0.citations' },
      });
      expect(harness.primary.requests).toHaveLength(3);
      expect(await getBalance(harness.database.db, walletId)).toMatchObject({ held: 0 });
    });

    it('holds an inline PDF by the pages counted in it: 7,800 tokens a page on Claude, 560 on Gemini', async () => {
      const pages = 3;
      const data = (await makePdf(pages)).toString('base64');
      const pdf = `data:application/pdf;base64,${data}`;
      // 8 for the message and 2 bytes of text, then 3 pages of 3,000 tokens of text and a 4,800-token image; 10 for
      // the answer. Far below the 200,000 tokens of the window an uncounted PDF is held at.
      const worstCase = price('claude-test', 10 + pages * 7_800, 10);
      expect(worstCase).toBeLessThan(price('claude-test', 200_000, 10) / 5);
      await fund(worstCase - 1);
      const short = await post('/v1/chat/completions', withPart('claude-test', pdf));
      expect(short.status).toBe(402);
      expect(harness.primary.requests).toHaveLength(0);

      await fund(worstCase);
      harness.primary.setHandler(claudeAnswer(6_900, 10));
      const served = await post('/v1/chat/completions', withPart('claude-test', pdf));
      expect(served.status).toBe(200);
      expect(Number(served.headers.get('x-webox-credits-charged'))).toBe(price('claude-test', 6_900, 10));
      const sent = upstreamBody(0).messages as Array<{ content: unknown[] }>;
      expect(sent[0]!.content[1]).toEqual({
        type: 'document',
        source: { type: 'base64', media_type: 'application/pdf', data },
      });

      // The same PDF in a document block on /v1/messages is held the same.
      await fund(worstCase);
      const messages = await post('/v1/messages', {
        model: 'claude-test',
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Hi' },
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data } },
            ],
          },
        ],
      });
      expect(messages.status).toBe(200);

      // Gemini bills each page as an image: 560 tokens, not the 560,000 of a document of 1,000 pages.
      const geminiWorstCase = price('gemini-test', 10 + pages * 560, 10);
      await fund(geminiWorstCase - 1);
      expect((await post('/v1/chat/completions', withPart('gemini-test', pdf))).status).toBe(402);
      await fund(geminiWorstCase);
      harness.primary.setHandler(geminiAnswer(1_690));
      const gemini = await post('/v1/chat/completions', withPart('gemini-test', pdf));
      expect(gemini.status).toBe(200);
      expect(harness.primary.requests).toHaveLength(3);
      expect(await getBalance(harness.database.db, walletId)).toMatchObject({ held: 0 });
    });

    it('holds the whole window for a PDF whose pages cannot be counted, or that claims more than Claude takes', async () => {
      const inline = (bytes: Buffer) => `data:application/pdf;base64,${bytes.toString('base64')}`;
      const uncounted = [
        // Encrypted, objects in a compressed object stream, not a PDF at all, a link.
        inline(await makePdf(1, { userPassword: 'made-up-at-test-time' })),
        inline(
          Buffer.from(
            '%PDF-1.7\n1 0 obj << /Type /ObjStm /N 9 /First 60 /Length 3 >> stream\nxyz\nendstream endobj',
          ),
        ),
        inline(Buffer.from('this is not a PDF, whatever its media type says')),
        'https://example.com/paper.pdf',
        // Hostile: one page that claims a billion, a tree nested a hundred thousand deep, a /Kids by reference.
        inline(Buffer.from('%PDF-1.7\n1 0 obj << /Type /Pages /Kids [2 0 R] /Count 999999999999 >> endobj')),
        inline(Buffer.from(`%PDF-1.7\n1 0 obj ${'<< /Kids ['.repeat(100_000)}`)),
        inline(
          Buffer.from(
            '%PDF-1.7\n1 0 obj << /Type /Pages /Kids 3 0 R /Count 1 >> endobj 2 0 obj << /Type /Page >> endobj',
          ),
        ),
      ];
      // A wallet that covers a 3-page PDF and then some, not the 200,000 tokens claude-sonnet-4-5 reads.
      const windowWorstCase = price('claude-test', 200_000, 10);
      await fund(windowWorstCase - 1);
      for (const url of uncounted) {
        const refused = await post('/v1/chat/completions', withPart('claude-test', url));
        expect(refused.status).toBe(402);
      }
      expect(harness.primary.requests).toHaveLength(0);
      expect(await getBalance(harness.database.db, walletId)).toMatchObject({ held: 0 });

      await fund(windowWorstCase);
      harness.primary.setHandler(claudeAnswer(2_400, 10));
      const served = await post('/v1/chat/completions', withPart('claude-test', uncounted[0]!));
      expect(served.status).toBe(200);
    });

    it('holds no more prompt than the largest context window of the candidates reads, whatever the parts', async () => {
      // Gemini bills a video part up to 2,160,000 tokens, and gemini-2.5-flash reads at most 1,048,576 of a prompt.
      const video = withPart('gemini-test', 'data:video/mp4;base64,AAAAIGZ0eXBpc29t');
      const windowWorstCase = price('gemini-test', 1_048_576, 10);
      expect(windowWorstCase).toBeLessThan(price('gemini-test', 10 + 2_160_000, 10));
      await fund(windowWorstCase - 1);
      const short = await post('/v1/chat/completions', video);
      expect(short.status).toBe(402);
      expect(harness.primary.requests).toHaveLength(0);

      await fund(windowWorstCase);
      harness.primary.setHandler(geminiAnswer(3_010));
      const served = await post('/v1/chat/completions', video);
      expect(served.status).toBe(200);
      expect(Number(served.headers.get('x-webox-credits-charged'))).toBe(price('gemini-test', 3_010, 10));
      expect(await getBalance(harness.database.db, walletId)).toMatchObject({ held: 0 });

      // A PDF on Claude: up to 600 pages of text and image, held at the 200,000 tokens claude-sonnet-4-5 reads.
      await fund(price('claude-test', 200_000, 10));
      harness.primary.setHandler(claudeAnswer(2_400, 10));
      const pdf = await post(
        '/v1/chat/completions',
        withPart('claude-test', 'data:application/pdf;base64,JVBERi0xLjQK'),
      );
      expect(pdf.status).toBe(200);
      const sent = upstreamBody(1).messages as Array<{ content: unknown[] }>;
      expect(sent[0]!.content[1]).toEqual({
        type: 'document',
        source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' },
      });
    });

    it('holds every one of n choices', async () => {
      const request = {
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 10,
        n: 16,
      };
      await fund(price('gpt-test', 10, 10));
      const refused = await post('/v1/chat/completions', request);
      expect(refused.status).toBe(402);
      expect(harness.primary.requests).toHaveLength(0);

      const worstCase = price('gpt-test', 10, 160);
      await fund(worstCase);
      harness.primary.setHandler(() => fakeCompletion({ prompt: 10, completion: 160 }));
      const served = await post('/v1/chat/completions', request);
      expect(served.status).toBe(200);
      expect(upstreamBody()).toMatchObject({ max_tokens: 10, n: 16 });
      expect(Number(served.headers.get('x-webox-credits-charged'))).toBe(worstCase);
      expect(await getBalance(harness.database.db, walletId)).toMatchObject({ balance: 0, held: 0 });
    });

    it('holds one token per id of token-array embeddings, and refuses arrays past OpenAI’s limits', async () => {
      await fund(0);
      const ids = (count: number) => Array.from({ length: count }, (_, index) => index);
      for (const input of [ids(8_000), [ids(4_000), ids(4_000)]]) {
        const refused = await post('/v1/embeddings', { model: 'embed-test', input });
        expect(refused.status).toBe(402);
      }
      expect(harness.primary.requests).toHaveLength(0);

      for (const input of [ids(8_193), [ids(1), ids(8_193)], Array.from({ length: 2_049 }, () => [1])]) {
        const invalid = await post('/v1/embeddings', { model: 'embed-test', input });
        expect(invalid.status).toBe(400);
        expect(await invalid.json()).toMatchObject({
          error: { type: 'invalid_request_error', code: 'validation_failed', param: 'input' },
        });
      }

      await fund(price('embed-test', 8_000, 0));
      harness.primary.setHandler(() => ({
        kind: 'json',
        body: {
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding: [0.1] }],
          model: 'text-embedding-3-small',
          usage: { prompt_tokens: 8_000, total_tokens: 8_000 },
        },
      }));
      const served = await post('/v1/embeddings', { model: 'embed-test', input: ids(8_000) });
      expect(served.status).toBe(200);
      expect(Number(served.headers.get('x-webox-credits-charged'))).toBe(price('embed-test', 8_000, 0));
    });

    it('reads null as absent in an OpenAI body: served, held as without them, no null sent upstream', async () => {
      await fund(1_000_000_000);
      const nulls = {
        temperature: null,
        top_p: null,
        n: null,
        max_tokens: null,
        max_completion_tokens: null,
        stop: null,
        seed: null,
        user: null,
        tools: null,
        tool_choice: null,
        parallel_tool_calls: null,
        response_format: null,
        presence_penalty: null,
        frequency_penalty: null,
        logit_bias: null,
        logprobs: null,
        top_logprobs: null,
        reasoning_effort: null,
        stream: null,
        stream_options: null,
      };
      const response = await post('/v1/chat/completions', {
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'Hi' }],
        ...nulls,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-webox-warnings')).toBeNull();
      // Only the cap the hold covers (the default, as if none was named) reaches the provider.
      expect(upstreamBody()).toEqual({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 4_096,
      });

      harness.primary.setHandler(claudeAnswer(10, 1));
      const claude = await post('/v1/chat/completions', {
        model: 'claude-test',
        messages: [{ role: 'user', content: 'Hi' }],
        ...nulls,
      });
      expect(claude.status).toBe(200);
      expect(upstreamBody(1)).toEqual({
        model: 'claude-sonnet-4-5',
        max_tokens: 4_096,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      });

      // Anthropic documents metadata.user_id as nullable.
      const messages = await post('/v1/messages', {
        model: 'claude-test',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'Hi' }],
        metadata: { user_id: null },
      });
      expect(messages.status).toBe(200);
      expect(upstreamBody(2)).not.toHaveProperty('metadata');
    });

    it('sends the held cap under the name the client used, for a provider that reads it as sent', async () => {
      await fund(1_000_000_000);
      const asked = await post('/v1/chat/completions', {
        model: 'reasoner-test',
        messages: [{ role: 'user', content: 'Hi' }],
        max_completion_tokens: 10,
      });
      expect(asked.status).toBe(200);
      expect(upstreamBody()).toMatchObject({ max_completion_tokens: 10 });
      expect(upstreamBody()).not.toHaveProperty('max_tokens');
      // With no cap named, the held default goes as max_completion_tokens, which every OpenAI chat model takes.
      const unnamed = await post('/v1/chat/completions', {
        model: 'reasoner-test',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      expect(unnamed.status).toBe(200);
      expect(upstreamBody(1)).toMatchObject({ max_completion_tokens: 4_096 });
      expect(upstreamBody(1)).not.toHaveProperty('max_tokens');
    });
  });
}
