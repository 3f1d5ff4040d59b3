import { and, asc, desc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { sqlState } from '../../db/sql-state.js';
import { AppError } from '../../errors.js';
import { type PriceKind, prices } from './tables.js';

const rate = z.number().int().nonnegative();

/** The integer credit rates of each kind of price. */
export const priceRatesSchemas = {
  /** Chat/completion models: credits per million tokens; cached input defaults to the input rate. */
  tokens: z.object({
    inputPerMillion: rate,
    outputPerMillion: rate,
    cachedInputPerMillion: rate.optional(),
  }),
  embeddings: z.object({ inputPerMillion: rate }),
  /** One image of the item's size and quality. */
  image: z.object({ perImage: rate }),
  speech: z.object({ perThousandCharacters: rate }),
  music: z.object({ perSecond: rate }),
  video: z.object({ perSecond: rate }),
} satisfies Record<PriceKind, z.ZodType>;

export type TokenRates = z.output<typeof priceRatesSchemas.tokens>;

export interface PriceRow {
  /** The price version: the `prices.id` recorded on every entry priced with it. */
  id: number;
  itemKey: string;
  kind: PriceKind;
  version: number;
  rates: Record<string, number>;
  source: 'config' | 'admin';
  createdBy: string | null;
  createdAt: Date;
  supersededAt: Date | null;
}

/** Item keys: one place that spells them. */
export const priceItem = {
  model: (model: string) => `model:${model}`,
  embeddings: (model: string) => `embeddings:${model}`,
  image: (model: string, size: string, quality: string) => `image:${model}:${size}:${quality}`,
  speech: (model: string) => `speech:${model}`,
  music: (model: string) => `music:${model}`,
  video: (model: string) => `video:${model}`,
};

/**
 * The kind each item-key prefix is priced as (see `priceItem`). A row of another kind would be read with rates it does
 * not have: a `model:` key priced per image costs a chat call 0 credits.
 */
const kindOfPrefix: Record<string, PriceKind> = {
  model: 'tokens',
  embeddings: 'embeddings',
  image: 'image',
  speech: 'speech',
  music: 'music',
  video: 'video',
};

function assertKindMatchesItem(itemKey: string, kind: PriceKind): void {
  const expected = kindOfPrefix[itemKey.slice(0, itemKey.indexOf(':'))];
  if (expected !== kind) {
    throw new AppError(
      'validation_failed',
      expected ? `${itemKey} is priced as ${expected}, not ${kind}.` : `${itemKey} names no kind of price.`,
      {
        details: [{ path: 'kind', message: expected ? `must be ${expected} for this item` : 'unknown item' }],
      },
    );
  }
}

export function parseRates(kind: PriceKind, rates: unknown): Record<string, number> {
  const parsed = priceRatesSchemas[kind].safeParse(rates);
  if (!parsed.success) {
    throw new AppError('validation_failed', `Invalid ${kind} rates.`, {
      details: parsed.error.issues.map((issue) => ({
        path: ['rates', ...issue.path.map(String)].join('.'),
        message: issue.message,
      })),
    });
  }
  return parsed.data as Record<string, number>;
}

function sameRates(left: Record<string, number>, right: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  for (const key of keys) if (left[key] !== right[key]) return false;
  return true;
}

export interface SetPriceOptions {
  itemKey: string;
  kind: PriceKind;
  rates: Record<string, number>;
  source: 'config' | 'admin';
  createdBy?: string;
}

/**
 * Makes `rates` the current price of an item: closes the current row and inserts the next version, in one
 * transaction (a unique index allows one open row per item). Past rows are never changed, so entries keep pointing
 * at the price they were charged with. Returns the current row unchanged when the rates are the same.
 */
export async function setPrice(db: Database, options: SetPriceOptions): Promise<PriceRow> {
  assertKindMatchesItem(options.itemKey, options.kind);
  const rates = parseRates(options.kind, options.rates);
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(prices)
      .where(and(eq(prices.itemKey, options.itemKey), isNull(prices.supersededAt)))
      .for('update');
    if (
      current &&
      current.kind === options.kind &&
      sameRates(current.rates, rates) &&
      current.source === options.source
    ) {
      return current;
    }
    const now = new Date();
    if (current) await tx.update(prices).set({ supersededAt: now }).where(eq(prices.id, current.id));
    const [latest] = await tx
      .select({ version: prices.version })
      .from(prices)
      .where(eq(prices.itemKey, options.itemKey))
      .orderBy(desc(prices.version))
      .limit(1);
    const [created] = await tx
      .insert(prices)
      .values({
        itemKey: options.itemKey,
        kind: options.kind,
        version: (latest?.version ?? 0) + 1,
        rates,
        source: options.source,
        createdBy: options.createdBy ?? null,
        createdAt: now,
      })
      .returning();
    return created!;
  });
}

/** What the gateway config says about a model's price (`models.<id>.price`). */
export interface ConfiguredModel {
  price?: TokenRates | undefined;
  capabilities?: readonly string[] | undefined;
}

/**
 * Brings the price book in line with the config file at boot: a model whose configured price differs from its
 * current config price gets a new version. A price an admin set in the database wins over the file until an admin
 * changes it again. Returns how many versions were created.
 */
export async function syncPriceBook(db: Database, models: Record<string, ConfiguredModel>): Promise<number> {
  let created = 0;
  const current = await listCurrentPrices(db);
  const byKey = new Map(current.map((row) => [row.itemKey, row]));
  for (const [model, config] of Object.entries(models)) {
    if (!config.price) continue;
    const embeddingsOnly =
      config.capabilities?.includes('embeddings') === true && !config.capabilities.includes('chat');
    const itemKey = embeddingsOnly ? priceItem.embeddings(model) : priceItem.model(model);
    const kind: PriceKind = embeddingsOnly ? 'embeddings' : 'tokens';
    const rates = embeddingsOnly
      ? { inputPerMillion: config.price.inputPerMillion }
      : Object.fromEntries(Object.entries(config.price).filter(([, value]) => value !== undefined));
    const existing = byKey.get(itemKey);
    if (existing?.source === 'admin') continue;
    if (existing && existing.kind === kind && sameRates(existing.rates, rates as Record<string, number>))
      continue;
    try {
      await setPrice(db, { itemKey, kind, rates: rates as Record<string, number>, source: 'config' });
    } catch (error) {
      // Another process booting at the same moment wrote the same version first; its row is as good as ours.
      if (sqlState(error) !== '23505') throw error;
      continue;
    }
    created++;
  }
  return created;
}

export async function listCurrentPrices(db: Database): Promise<PriceRow[]> {
  return db.select().from(prices).where(isNull(prices.supersededAt)).orderBy(asc(prices.itemKey));
}

export async function listPriceHistory(db: Database, itemKey: string): Promise<PriceRow[]> {
  return db.select().from(prices).where(eq(prices.itemKey, itemKey)).orderBy(desc(prices.version));
}

/** Usage as the gateway normalises it: `inputTokens` includes the cached part. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
}

/** A plan's effect on prices: credits are multiplied by permille / 1000 (1000 = list price). */
export interface PricingPlan {
  priceMultiplierPermille: number;
}

export interface PricedAmount {
  credits: number;
  /** The `prices.id` used; record it on the ledger entry. */
  priceVersion: number;
}

const MILLION = 1_000_000n;

/**
 * Integer division rounding up. All pricing funnels through here once per request: the exact rational cost
 * (rates × quantities × plan multiplier) is computed in BigInt and rounded up to the next whole credit,
 * so a request is never undercharged and never charged more than one credit above its exact cost.
 */
function ceilDivide(numerator: bigint, denominator: bigint): number {
  if (numerator <= 0n) return 0;
  const result = (numerator + denominator - 1n) / denominator;
  const credits = Number(result);
  if (!Number.isSafeInteger(credits)) throw new AppError('unprocessable', 'The price is too large.');
  return credits;
}

function multiplier(plan: PricingPlan | undefined): bigint {
  const permille = plan?.priceMultiplierPermille ?? 1000;
  if (!Number.isSafeInteger(permille) || permille < 0)
    throw new Error('priceMultiplierPermille must be an integer');
  return BigInt(permille);
}

function count(name: string, value: number | undefined): bigint {
  const number = value ?? 0;
  if (!Number.isSafeInteger(number) || number < 0) {
    throw new AppError('validation_failed', `${name} must be a non-negative integer.`);
  }
  return BigInt(number);
}

/** The current prices, loaded once and used synchronously on the request path. */
export class PriceBook {
  readonly #byKey: Map<string, PriceRow>;

  constructor(rows: PriceRow[]) {
    this.#byKey = new Map(rows.map((row) => [row.itemKey, row]));
  }

  get(itemKey: string): PriceRow | undefined {
    return this.#byKey.get(itemKey);
  }

  rows(): PriceRow[] {
    return [...this.#byKey.values()];
  }

  #require(itemKey: string, kinds: PriceKind[]): PriceRow {
    const row = this.#byKey.get(itemKey);
    if (!row || !kinds.includes(row.kind)) {
      throw new AppError('unprocessable', `No price is set for ${itemKey}.`, { details: { item: itemKey } });
    }
    return row;
  }

  #modelRow(model: string): PriceRow {
    // A `model:` row of another kind (written before setPrice checked kinds) has no token rates: refused, not free.
    if (this.#byKey.has(priceItem.model(model))) return this.#require(priceItem.model(model), ['tokens']);
    return this.#require(priceItem.embeddings(model), ['embeddings']);
  }

  /**
   * The cost of a finished request: (input − cached) × input rate + cached × cached rate + output × output rate,
   * per million, times the plan multiplier, rounded up once to a whole credit.
   */
  priceUsage(options: { model: string; usage: TokenUsage; plan?: PricingPlan }): PricedAmount {
    const row = this.#modelRow(options.model);
    const input = count('inputTokens', options.usage.inputTokens);
    const cached = count('cachedInputTokens', options.usage.cachedInputTokens);
    const output = count('outputTokens', options.usage.outputTokens);
    // Cached tokens are part of the input; a provider reporting more cached than input is capped at the input.
    let cachedCounted = cached;
    if (cachedCounted > input) cachedCounted = input;
    const fresh = input - cachedCounted;
    const rates = row.rates;
    const inputRate = BigInt(rates.inputPerMillion ?? 0);
    const cachedRate = BigInt(rates.cachedInputPerMillion ?? rates.inputPerMillion ?? 0);
    const outputRate = BigInt(rates.outputPerMillion ?? 0);
    const exact = fresh * inputRate + cachedCounted * cachedRate + output * outputRate;
    return { credits: ceilDivide(exact * multiplier(options.plan), MILLION * 1000n), priceVersion: row.id };
  }

  /**
   * The worst case to hold before calling the provider: every prompt token at the full input rate plus the maximum
   * output. With several candidate models (an alias with fallbacks) the most expensive one is quoted.
   */
  quoteHold(options: {
    model: string | readonly string[];
    maxPromptTokens: number;
    maxOutputTokens: number;
    plan?: PricingPlan;
  }): PricedAmount {
    const models = typeof options.model === 'string' ? [options.model] : options.model;
    if (models.length === 0) throw new AppError('unprocessable', 'No model to quote.');
    let worst: PricedAmount | undefined;
    for (const model of models) {
      const quote = this.priceUsage({
        model,
        usage: {
          inputTokens: options.maxPromptTokens,
          outputTokens: options.maxOutputTokens,
          cachedInputTokens: 0,
        },
        ...(options.plan ? { plan: options.plan } : {}),
      });
      if (!worst || quote.credits > worst.credits) worst = quote;
    }
    return worst!;
  }

  /**
   * Per-operation prices. Quantities are integers: images, characters (speech, charged per started thousand of the
   * exact rational), seconds (music, video, rounded up by the caller to whole seconds), tokens (embeddings).
   */
  priceOperation(
    options:
      | { kind: 'image'; model: string; size: string; quality: string; images: number; plan?: PricingPlan }
      | { kind: 'speech'; model: string; characters: number; plan?: PricingPlan }
      | { kind: 'music' | 'video'; model: string; seconds: number; plan?: PricingPlan }
      | { kind: 'embeddings'; model: string; inputTokens: number; plan?: PricingPlan },
  ): PricedAmount {
    const scale = multiplier(options.plan);
    switch (options.kind) {
      case 'image': {
        const row = this.#require(priceItem.image(options.model, options.size, options.quality), ['image']);
        const exact = count('images', options.images) * BigInt(row.rates.perImage ?? 0);
        return { credits: ceilDivide(exact * scale, 1000n), priceVersion: row.id };
      }
      case 'speech': {
        const row = this.#require(priceItem.speech(options.model), ['speech']);
        const exact = count('characters', options.characters) * BigInt(row.rates.perThousandCharacters ?? 0);
        return { credits: ceilDivide(exact * scale, 1000n * 1000n), priceVersion: row.id };
      }
      case 'music':
      case 'video': {
        const item =
          options.kind === 'music' ? priceItem.music(options.model) : priceItem.video(options.model);
        const row = this.#require(item, [options.kind]);
        const exact = count('seconds', options.seconds) * BigInt(row.rates.perSecond ?? 0);
        return { credits: ceilDivide(exact * scale, 1000n), priceVersion: row.id };
      }
      case 'embeddings': {
        const row =
          this.#byKey.get(priceItem.embeddings(options.model)) ??
          this.#require(priceItem.model(options.model), ['tokens']);
        const exact = count('inputTokens', options.inputTokens) * BigInt(row.rates.inputPerMillion ?? 0);
        return { credits: ceilDivide(exact * scale, MILLION * 1000n), priceVersion: row.id };
      }
    }
  }
}

export async function loadPriceBook(db: Database): Promise<PriceBook> {
  return new PriceBook(await listCurrentPrices(db));
}

/**
 * Keeps one PriceBook per process and reloads it after `maxAgeMs` (default 30 s) or when invalidated
 * (an admin edit here, or a `billing:prices` message from another process).
 */
export class PriceBookCache {
  #book: Promise<PriceBook> | undefined;
  #loadedAt = 0;

  constructor(
    private readonly db: Database,
    private readonly maxAgeMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<PriceBook> {
    if (!this.#book || this.now() - this.#loadedAt > this.maxAgeMs) {
      this.#loadedAt = this.now();
      const loading = loadPriceBook(this.db);
      loading.catch(() => {
        if (this.#book === loading) this.#book = undefined;
      });
      this.#book = loading;
    }
    return this.#book;
  }

  invalidate(): void {
    this.#book = undefined;
  }
}
