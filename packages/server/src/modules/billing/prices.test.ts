import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseConnection } from '../../db/client.js';
import { databaseBackends } from '../../testing/backends.js';
import { displayCredits, parseCreditRates } from './display.js';
import { ensureWallet, getBalance, verifyLedger } from './ledger.js';
import { getWalletPlan, planAllowsModel, plans, renewPlans, setWalletPlan } from './plans.js';
import {
  listPriceHistory,
  loadPriceBook,
  PriceBook,
  type PriceRow,
  priceItem,
  setPrice,
  syncPriceBook,
} from './prices.js';
import { subscriptions } from './tables.js';

function row(itemKey: string, kind: PriceRow['kind'], rates: Record<string, number>, id = 1): PriceRow {
  return {
    id,
    itemKey,
    kind,
    version: 1,
    rates,
    source: 'config',
    createdBy: null,
    createdAt: new Date(),
    supersededAt: null,
  };
}

describe('pricing arithmetic', () => {
  const book = new PriceBook([
    row(
      'model:gpt',
      'tokens',
      { inputPerMillion: 2_500, outputPerMillion: 10_000, cachedInputPerMillion: 1_250 },
      7,
    ),
    row('model:cheap', 'tokens', { inputPerMillion: 150, outputPerMillion: 600 }, 8),
    row('image:img:1024x1024:hd', 'image', { perImage: 800 }, 9),
    row('speech:tts', 'speech', { perThousandCharacters: 1_500 }, 10),
    row('video:vid', 'video', { perSecond: 3_000 }, 11),
    row('embeddings:emb', 'embeddings', { inputPerMillion: 20 }, 12),
  ]);

  it('prices tokens exactly and rounds up once per request', () => {
    // 1,000 fresh input × 2,500 + 0 output = 2,500,000 / 1e6 = 2.5 → 3 credits.
    expect(book.priceUsage({ model: 'gpt', usage: { inputTokens: 1_000, outputTokens: 0 } })).toEqual({
      credits: 3,
      priceVersion: 7,
    });
    // Cached tokens are part of inputTokens and use their own rate: 600 × 2,500 + 400 × 1,250 + 100 × 10,000 = 3e6.
    expect(
      book.priceUsage({
        model: 'gpt',
        usage: { inputTokens: 1_000, cachedInputTokens: 400, outputTokens: 100 },
      }).credits,
    ).toBe(3);
    // Without a cached rate, cached tokens cost the input rate.
    expect(
      book.priceUsage({ model: 'cheap', usage: { inputTokens: 10, cachedInputTokens: 10, outputTokens: 0 } })
        .credits,
    ).toBe(1);
    expect(book.priceUsage({ model: 'cheap', usage: { inputTokens: 0, outputTokens: 0 } }).credits).toBe(0);
    // One token of anything costs at least one credit: never undercharged.
    expect(book.priceUsage({ model: 'cheap', usage: { inputTokens: 1, outputTokens: 0 } }).credits).toBe(1);
  });

  it('applies the plan multiplier before rounding', () => {
    const usage = { inputTokens: 1_000_000, outputTokens: 1_000_000 };
    expect(book.priceUsage({ model: 'gpt', usage }).credits).toBe(12_500);
    expect(book.priceUsage({ model: 'gpt', usage, plan: plans.education! }).credits).toBe(6_250);
    expect(
      book.priceUsage({ model: 'gpt', usage: { inputTokens: 3, outputTokens: 0 }, plan: plans.business! })
        .credits,
    ).toBe(1);
  });

  it('quotes the worst case over every candidate model', () => {
    const quote = book.quoteHold({ model: ['cheap', 'gpt'], maxPromptTokens: 2_000, maxOutputTokens: 1_000 });
    expect(quote).toEqual({ credits: 15, priceVersion: 7 });
    expect(() => book.quoteHold({ model: 'unknown', maxPromptTokens: 1, maxOutputTokens: 1 })).toThrow(
      /No price/,
    );
  });

  it('refuses to price a chat call from a model row of another kind rather than charging it nothing', () => {
    const mispriced = new PriceBook([row('model:wrong', 'image', { perImage: 800 }, 13)]);
    const usage = { inputTokens: 1_000, outputTokens: 1_000 };
    expect(() => mispriced.priceUsage({ model: 'wrong', usage })).toThrow(
      expect.objectContaining({ code: 'unprocessable' }),
    );
    expect(() =>
      mispriced.quoteHold({ model: 'wrong', maxPromptTokens: 1_000, maxOutputTokens: 1_000 }),
    ).toThrow(expect.objectContaining({ code: 'unprocessable' }));
  });

  it('prices operations: images, speech per thousand characters, seconds, embeddings', () => {
    expect(
      book.priceOperation({ kind: 'image', model: 'img', size: '1024x1024', quality: 'hd', images: 2 })
        .credits,
    ).toBe(1_600);
    expect(book.priceOperation({ kind: 'speech', model: 'tts', characters: 1_001 }).credits).toBe(1_502);
    expect(
      book.priceOperation({ kind: 'video', model: 'vid', seconds: 5, plan: plans.government! }).credits,
    ).toBe(12_000);
    expect(book.priceOperation({ kind: 'embeddings', model: 'emb', inputTokens: 100_000 }).credits).toBe(2);
    expect(() =>
      book.priceOperation({ kind: 'image', model: 'img', size: '512x512', quality: 'hd', images: 1 }),
    ).toThrow();
  });

  it('shows credits in local currencies with integer arithmetic', () => {
    const rates = parseCreditRates('DZD:100,EUR:15000,USD:13500');
    expect(displayCredits(123_456, rates)).toEqual([
      { currency: 'DZD', minor: 123_456, formatted: '1234.56' },
      { currency: 'EUR', minor: 823, formatted: '8.23' },
      { currency: 'USD', minor: 914, formatted: '9.14' },
    ]);
    expect(displayCredits(0, rates)[0]!.formatted).toBe('0.00');
  });

  it('plans gate models', () => {
    expect(planAllowsModel(plans.free!, 'gpt-4o-mini')).toBe(true);
    expect(planAllowsModel(plans.free!, 'o1')).toBe(false);
    expect(planAllowsModel(plans.pro!, 'o1')).toBe(true);
  });
});

for (const backend of databaseBackends()) {
  describe(`price book and plans on ${backend.name}`, () => {
    let connection: DatabaseConnection;
    beforeAll(async () => {
      connection = await backend.open();
    });
    afterAll(() => connection.close());

    it('versions prices: a change adds a version, an unchanged sync adds nothing, admin prices win', async () => {
      const db = connection.db;
      const model = `m-${randomUUID().slice(0, 8)}`;
      const models = { [model]: { price: { inputPerMillion: 100, outputPerMillion: 200 } } };
      expect(await syncPriceBook(db, models)).toBe(1);
      expect(await syncPriceBook(db, models)).toBe(0);
      const first = (await loadPriceBook(db)).get(priceItem.model(model))!;
      models[model] = { price: { inputPerMillion: 120, outputPerMillion: 200 } };
      expect(await syncPriceBook(db, models)).toBe(1);
      const second = (await loadPriceBook(db)).get(priceItem.model(model))!;
      expect(second.version).toBe(2);
      expect(second.id).not.toBe(first.id);

      await setPrice(db, {
        itemKey: priceItem.model(model),
        kind: 'tokens',
        rates: { inputPerMillion: 90, outputPerMillion: 180 },
        source: 'admin',
        createdBy: 'admin-1',
      });
      models[model] = { price: { inputPerMillion: 130, outputPerMillion: 200 } };
      expect(await syncPriceBook(db, models)).toBe(0);
      const history = await listPriceHistory(db, priceItem.model(model));
      expect(
        history.map((price) => [price.version, price.rates.inputPerMillion, price.supersededAt === null]),
      ).toEqual([
        [3, 90, true],
        [2, 120, false],
        [1, 100, false],
      ]);
      await expect(
        setPrice(db, { itemKey: 'image:x:1:1', kind: 'image', rates: { perImage: -1 }, source: 'admin' }),
      ).rejects.toMatchObject({ code: 'validation_failed' });
      // An item is priced as the kind its key names: a model priced per image would make its calls free.
      await expect(
        setPrice(db, {
          itemKey: priceItem.model(model),
          kind: 'image',
          rates: { perImage: 5 },
          source: 'admin',
        }),
      ).rejects.toMatchObject({ code: 'validation_failed' });
      await expect(
        setPrice(db, { itemKey: 'speech:tts-x', kind: 'video', rates: { perSecond: 5 }, source: 'admin' }),
      ).rejects.toMatchObject({ code: 'validation_failed' });
      expect((await loadPriceBook(db)).get(priceItem.model(model))).toMatchObject({
        kind: 'tokens',
        version: 3,
      });
    });

    it('renews plan credits once per monthly period, also when runs overlap', async () => {
      const db = connection.db;
      const wallet = await ensureWallet(db, { ownerType: 'user', ownerId: randomUUID() });
      expect((await getWalletPlan(db, wallet.id)).id).toBe('free');
      await setWalletPlan(db, { walletId: wallet.id, plan: 'pro' });
      const timeZone = 'Africa/Algiers';
      const may = new Date('2031-05-15T12:00:00Z');
      await Promise.all([renewPlans(db, { timeZone, now: may }), renewPlans(db, { timeZone, now: may })]);
      await renewPlans(db, { timeZone, now: may });
      expect((await getBalance(db, wallet.id)).balance).toBe(plans.pro!.monthlyCredits);
      // 31 May 23:30 UTC is already June in Algiers.
      await renewPlans(db, { timeZone, now: new Date('2031-05-31T23:30:00Z') });
      expect((await getBalance(db, wallet.id)).balance).toBe(2 * plans.pro!.monthlyCredits);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it('keeps renewing other wallets when one changed plan after its credits for the period were granted', async () => {
      const db = connection.db;
      const timeZone = 'Africa/Algiers';
      const june = new Date('2032-06-15T12:00:00Z');
      const [upgraded, other] = await Promise.all(
        [1, 2].map(() => ensureWallet(db, { ownerType: 'user', ownerId: randomUUID() })),
      );
      await setWalletPlan(db, { walletId: upgraded!.id, plan: 'free' });
      await renewPlans(db, { timeZone, now: june });
      // Upgraded mid-month, and a run that had read the subscription before its renewal was recorded meets the
      // period's key already used by the free grant.
      await setWalletPlan(db, { walletId: upgraded!.id, plan: 'pro' });
      await db
        .update(subscriptions)
        .set({ renewedPeriod: null })
        .where(eq(subscriptions.walletId, upgraded!.id));
      await setWalletPlan(db, { walletId: other!.id, plan: 'pro' });
      await renewPlans(db, { timeZone, now: june });
      expect((await getBalance(db, upgraded!.id)).balance).toBe(plans.free!.monthlyCredits);
      expect((await getBalance(db, other!.id)).balance).toBe(plans.pro!.monthlyCredits);
      expect(await verifyLedger(db)).toEqual([]);
    });
  });
}
