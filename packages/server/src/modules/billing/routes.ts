import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { adminLimit, adminLimitNote } from '../accounts/rate-limits.js';
import {
  budgetLimits,
  getUserBudget,
  MAX_BUDGET_CREDITS,
  MAX_DAILY_REQUESTS,
  setUserBudget,
  type UserBudget,
} from './budgets.js';
import { displayCredits } from './display.js';
import { getWallet, MAX_CREDITS_PER_ENTRY, postEntry, verifyLedger } from './ledger.js';
import { periodOf } from './periods.js';
import { getWalletPlan, plans, planWalletLimits, setWalletPlan } from './plans.js';
import { listCurrentPrices, listPriceHistory, setPrice } from './prices.js';
import { checkQuota } from './quotas.js';
import { singleFlight } from './single-flight.js';
import {
  defaultUsageWindow,
  exportLedgerCsv,
  listLedgerEntries,
  summariseUsage,
  usageGroupings,
} from './statements.js';
import { ledgerEntryKinds, priceKinds } from './tables.js';

const credits = z.number().int();
const currencyAmount = z.object({ currency: z.string(), minor: z.number().int(), formatted: z.string() });

const balanceSchema = z.object({
  walletId: z.uuid(),
  balance: credits,
  held: credits,
  available: credits,
  display: z.array(currencyAmount).describe('The balance in each configured currency (display only).'),
  plan: z.object({
    id: z.string(),
    name: z.string(),
    monthlyCredits: credits,
    overage: z.boolean(),
    features: z.array(z.string()),
  }),
});

/** A limit a person sets: a positive integer, or null for none. Credits stay well inside the integer columns. */
const budgetLimit = (max: number) => z.number().int().min(1).max(max).nullable().default(null);

const budgetSchema = z
  .object({
    dailyCredits: budgetLimit(MAX_BUDGET_CREDITS).describe('Credits per day; null for no limit.'),
    monthlyCredits: budgetLimit(MAX_BUDGET_CREDITS).describe('Credits per month; null for no limit.'),
    dailyRequests: budgetLimit(MAX_DAILY_REQUESTS).describe('/v1 requests per day; null for no limit.'),
  })
  .strict();

const budgetsResponse = z.object({
  timeZone: z.string().describe('Days and months reset at midnight in this zone.'),
  budget: z.object({
    dailyCredits: credits.nullable(),
    monthlyCredits: credits.nullable(),
    dailyRequests: z.number().int().nullable(),
  }),
  status: z.array(
    z.object({
      metric: z.enum(['requests', 'credits']),
      period: z.enum(['day', 'month']),
      limit: z.number().int(),
      used: z.number().int(),
      remaining: z.number().int(),
      resetsAt: z.iso.datetime(),
    }),
  ),
});

const entrySchema = z.object({
  id: z.string().describe('Entry id (decimal string).'),
  kind: z.enum(ledgerEntryKinds),
  amount: credits.describe('Signed change to the balance.'),
  balanceAfter: credits,
  createdAt: z.iso.datetime(),
  requestId: z.string().nullable(),
  model: z.string().nullable(),
  keyId: z.string().nullable(),
  priceVersion: z.number().int().nullable(),
  paymentId: z.string().nullable(),
  orderId: z.string().nullable(),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.union([z.number(), z.string()])).nullable(),
});

const ledgerPageSchema = z.object({ entries: z.array(entrySchema), nextCursor: z.string().nullable() });

/** True for a date the calendar has: 2024-02-31 or 2024-13-01 would become an invalid instant (a 500) further on. */
function isCalendarDate(value: string): boolean {
  const time = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === value;
}

const localDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
  .refine(isCalendarDate, 'must be a date of the calendar');

const priceSchema = z.object({
  id: z.number().int().describe('The price version recorded on ledger entries.'),
  itemKey: z.string(),
  kind: z.enum(priceKinds),
  version: z.number().int(),
  rates: z.record(z.string(), z.number().int()),
  source: z.enum(['config', 'admin']),
  createdBy: z.string().nullable(),
  createdAt: z.iso.datetime(),
  supersededAt: z.iso.datetime().nullable(),
});

function toPriceView(row: Awaited<ReturnType<typeof listCurrentPrices>>[number]) {
  return {
    ...row,
    createdAt: row.createdAt.toISOString(),
    supersededAt: row.supersededAt?.toISOString() ?? null,
  };
}

/** Resolves a local date in the billing time zone to the UTC instant its day starts. */
function dayStart(date: string, timeZone: string): Date {
  // Noon UTC of that calendar date is inside the local day for every zone within ±12 h.
  return periodOf(new Date(`${date}T12:00:00Z`), 'day', timeZone).start;
}

export async function billingRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const signedIn = authenticate();
  const admin = authenticate({ roles: ['admin'] });

  routes.get(
    '/api/billing/balance',
    {
      preHandler: signedIn,
      schema: {
        tags: ['billing'],
        summary: 'Your credit balance, what in-flight requests hold, and your plan.',
        response: { 200: balanceSchema, ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      await app.billing.flushUsage();
      const wallet = await app.billing.userWallet(request.auth.userId);
      const plan = await getWalletPlan(app.db, wallet.id);
      return {
        walletId: wallet.id,
        balance: wallet.balance,
        held: wallet.held,
        available: wallet.available,
        display: displayCredits(wallet.balance, app.billing.creditRates),
        plan: {
          id: plan.id,
          name: plan.name,
          monthlyCredits: plan.monthlyCredits,
          overage: plan.overage,
          features: [...plan.features],
        },
      };
    },
  );

  routes.get(
    '/api/billing/ledger',
    {
      preHandler: signedIn,
      schema: {
        tags: ['billing'],
        summary: 'Your ledger entries, newest first; `format=csv` downloads the whole history as CSV.',
        querystring: z.object({
          cursor: z
            .string()
            .regex(/^\d{1,18}$/)
            .optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          format: z.enum(['json', 'csv']).default('json'),
        }),
        response: { 200: ledgerPageSchema, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      await app.billing.flushUsage();
      const wallet = await app.billing.userWallet(request.auth.userId);
      if (request.query.format === 'csv') {
        const csv = await exportLedgerCsv(app.db, wallet.id);
        // A string with a text/csv type is sent as is; the JSON schema above describes the default format.
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="webox-ledger.csv"')
          .send(csv as never);
      }
      const page = await listLedgerEntries(app.db, {
        walletId: wallet.id,
        cursor: request.query.cursor === undefined ? undefined : Number(request.query.cursor),
        limit: request.query.limit,
      });
      return {
        entries: page.entries.map(({ memberUserId: _member, ...entry }) => ({
          ...entry,
          id: String(entry.id),
          createdAt: entry.createdAt.toISOString(),
        })),
        nextCursor: page.nextCursor === null ? null : String(page.nextCursor),
      };
    },
  );

  routes.get(
    '/api/billing/usage',
    {
      preHandler: signedIn,
      schema: {
        tags: ['billing'],
        summary:
          'Credits you spent, grouped by local day, model or API key (default: the last 30 days by day).',
        querystring: z.object({
          groupBy: z.enum(usageGroupings).default('day'),
          from: localDate.optional().describe('First local day, inclusive.'),
          to: localDate.optional().describe('Last local day, inclusive.'),
        }),
        response: {
          200: z.object({
            groupBy: z.enum(usageGroupings),
            timeZone: z.string(),
            from: z.iso.datetime(),
            to: z.iso.datetime(),
            rows: z.array(z.object({ group: z.string(), requests: z.number().int(), credits })),
            total: z.object({ requests: z.number().int(), credits }),
          }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { timeZone } = app.billing;
      await app.billing.flushUsage();
      const wallet = await app.billing.userWallet(request.auth.userId);
      const window = defaultUsageWindow(new Date(), timeZone);
      const from = request.query.from ? dayStart(request.query.from, timeZone) : window.from;
      const to = request.query.to
        ? periodOf(dayStart(request.query.to, timeZone), 'day', timeZone).end
        : window.to;
      if (to <= from) throw new AppError('validation_failed', '`to` must not be before `from`.');
      if (to.getTime() - from.getTime() > 400 * 86_400_000) {
        throw new AppError('validation_failed', 'A usage report covers at most 400 days.');
      }
      const rows = await summariseUsage(app.db, {
        walletId: wallet.id,
        from,
        to,
        groupBy: request.query.groupBy,
        timeZone,
      });
      return {
        groupBy: request.query.groupBy,
        timeZone,
        from: from.toISOString(),
        to: to.toISOString(),
        rows,
        total: {
          requests: rows.reduce((sum, row) => sum + row.requests, 0),
          credits: rows.reduce((sum, row) => sum + row.credits, 0),
        },
      };
    },
  );

  routes.get(
    '/api/billing/plans',
    {
      config: { public: 'the plans on offer, shown before sign-up' },
      schema: {
        tags: ['billing'],
        summary: 'The plans on offer: monthly credits, overage, models, features and price multiplier.',
        response: {
          200: z.object({
            plans: z.array(
              z.object({
                id: z.string(),
                name: z.string(),
                monthlyCredits: credits,
                overage: z.boolean(),
                allowedModels: z.union([z.literal('*'), z.array(z.string())]),
                features: z.array(z.string()),
                priceMultiplierPermille: z.number().int(),
                dailyRequests: z.number().int().nullable(),
                display: z.array(currencyAmount).describe('The monthly credits in each configured currency.'),
              }),
            ),
          }),
        },
      },
    },
    async () => ({
      plans: Object.values(plans).map((plan) => ({
        id: plan.id,
        name: plan.name,
        monthlyCredits: plan.monthlyCredits,
        overage: plan.overage,
        allowedModels: plan.allowedModels === '*' ? ('*' as const) : [...plan.allowedModels],
        features: [...plan.features],
        priceMultiplierPermille: plan.priceMultiplierPermille,
        dailyRequests: plan.limits.dailyRequests ?? null,
        display: displayCredits(plan.monthlyCredits, app.billing.creditRates),
      })),
    }),
  );

  routes.get(
    '/api/billing/prices',
    {
      config: { public: 'the public price list' },
      schema: {
        tags: ['billing'],
        summary:
          'Current list prices in credits (per million tokens, per image, per thousand characters, per second).',
        response: {
          200: z.object({
            prices: z.array(
              z.object({
                itemKey: z.string(),
                kind: z.enum(priceKinds),
                version: z.number().int(),
                rates: z.record(z.string(), z.number().int()),
              }),
            ),
          }),
        },
      },
    },
    async () => {
      const book = await app.billing.prices.get();
      return {
        prices: book
          .rows()
          .sort((left, right) => left.itemKey.localeCompare(right.itemKey))
          .map(({ itemKey, kind, version, rates }) => ({ itemKey, kind, version, rates })),
      };
    },
  );

  routes.get(
    '/api/billing/quotas',
    {
      preHandler: signedIn,
      schema: {
        tags: ['billing'],
        summary: 'Where your plan’s request quotas and credit budgets stand, and when each resets.',
        response: {
          200: z.object({
            timeZone: z.string(),
            quotas: z.array(
              z.object({
                scope: z.string(),
                metric: z.enum(['requests', 'credits']),
                period: z.enum(['day', 'month']),
                limit: z.number().int(),
                used: z.number().int(),
                remaining: z.number().int(),
                resetsAt: z.iso.datetime(),
              }),
            ),
          }),
          ...errorResponses(401, 403),
        },
      },
    },
    async (request) => {
      await app.billing.flushUsage();
      const wallet = await app.billing.userWallet(request.auth.userId);
      const plan = await getWalletPlan(app.db, wallet.id);
      const statuses = await checkQuota(app.stores.counters, {
        subjects: [
          { scope: 'wallet', id: wallet.id, limits: planWalletLimits(plan) },
          { scope: 'user', id: request.auth.userId, limits: plan.limits },
        ],
        timeZone: app.billing.timeZone,
      });
      return {
        timeZone: app.billing.timeZone,
        quotas: statuses.map((status) => ({
          scope: status.scope,
          metric: status.metric,
          period: status.unit,
          limit: status.limit,
          used: status.used,
          remaining: status.remaining,
          resetsAt: status.resetsAt.toISOString(),
        })),
      };
    },
  );

  const budgetStatus = async (userId: string, budget: UserBudget) => {
    const statuses = await checkQuota(app.stores.counters, {
      subjects: [{ scope: 'user', id: userId, limits: budgetLimits(budget) }],
      timeZone: app.billing.timeZone,
    });
    return {
      timeZone: app.billing.timeZone,
      budget,
      status: statuses.map((status) => ({
        metric: status.metric,
        period: status.unit,
        limit: status.limit,
        used: status.used,
        remaining: status.remaining,
        resetsAt: status.resetsAt.toISOString(),
      })),
    };
  };

  routes.get(
    '/api/billing/budgets',
    {
      preHandler: signedIn,
      schema: {
        tags: ['billing'],
        summary:
          'The limits you set on your own /v1 spending (all your keys and the studio), and where each stands.',
        response: { 200: budgetsResponse, ...errorResponses(401, 403) },
      },
    },
    async (request) => budgetStatus(request.auth.userId, await getUserBudget(app.db, request.auth.userId)),
  );

  routes.put(
    '/api/billing/budgets',
    {
      preHandler: signedIn,
      schema: {
        tags: ['billing'],
        summary:
          'Set your own daily and monthly credit budgets and daily request quota (null or absent: no limit). ' +
          'They only tighten your plan’s limits and apply at once in every server process.',
        body: budgetSchema,
        response: { 200: budgetsResponse, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const budget = await setUserBudget(app.db, app.stores.pubSub, {
        userId: request.auth.userId,
        budget: request.body,
      });
      return budgetStatus(request.auth.userId, budget);
    },
  );

  // Admin back-office: prices, grants and adjustments, plans, and the ledger check. Each after the admin check, so
  // only an admin spends a budget, and each budget per admin (`adminLimit`).
  const adminReads = [admin, adminLimit(app, 'reads')];
  const pricingChange = [admin, adminLimit(app, 'pricing')];

  routes.get(
    '/api/admin/billing/prices',
    {
      preHandler: adminReads,
      schema: {
        tags: ['billing admin'],
        summary: 'The current price book, or one item’s full history with `itemKey`.',
        description: adminLimitNote('reads'),
        querystring: z.object({ itemKey: z.string().min(1).max(200).optional() }),
        response: { 200: z.object({ prices: z.array(priceSchema) }), ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => {
      const rows = request.query.itemKey
        ? await listPriceHistory(app.db, request.query.itemKey)
        : await listCurrentPrices(app.db);
      return { prices: rows.map(toPriceView) };
    },
  );

  routes.put(
    '/api/admin/billing/prices',
    {
      preHandler: pricingChange,
      schema: {
        tags: ['billing admin'],
        summary:
          'Sets an item’s price as a new version; past entries keep the version they were charged with.',
        description: adminLimitNote('pricing'),
        body: z.object({
          itemKey: z
            .string()
            .regex(
              /^(model|embeddings|image|speech|music|video):[^\s]{1,190}$/,
              'must be kind:model[:size:quality]',
            ),
          kind: z.enum(priceKinds),
          rates: z.record(z.string(), z.number().int().nonnegative()),
        }),
        response: { 200: z.object({ price: priceSchema }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const price = await setPrice(app.db, {
        ...request.body,
        source: 'admin',
        createdBy: request.auth.userId,
      });
      await app.billing.pricesChanged();
      return { price: toPriceView(price) };
    },
  );

  const walletParams = z.object({ walletId: z.uuid() });
  /** A customer wallet (a person's or an organisation's); the ledger's system counter-accounts are not found here. */
  const customerWallet = async (walletId: string) => {
    const wallet = await getWallet(app.db, walletId);
    if (wallet.ownerType === 'system') throw new AppError('not_found', 'No such wallet.');
    return wallet;
  };

  routes.get(
    '/api/admin/billing/wallets/:walletId',
    {
      preHandler: adminReads,
      schema: {
        tags: ['billing admin'],
        summary: 'A wallet’s balance and plan.',
        description: adminLimitNote('reads'),
        params: walletParams,
        response: {
          200: z.object({
            walletId: z.uuid(),
            ownerType: z.string(),
            ownerId: z.string(),
            balance: credits,
            held: credits,
            available: credits,
            plan: z.string(),
          }),
          ...errorResponses(401, 403, 404, 429),
        },
      },
    },
    async (request) => {
      const wallet = await customerWallet(request.params.walletId);
      const plan = await getWalletPlan(app.db, wallet.id);
      const { id, ...rest } = wallet;
      return { walletId: id, ...rest, plan: plan.id };
    },
  );

  routes.post(
    '/api/admin/billing/wallets/:walletId/entries',
    {
      preHandler: [admin, adminLimit(app, 'money')],
      schema: {
        tags: ['billing admin'],
        summary: 'Grants credits or adjusts a balance (with a reason). Idempotent on `idempotencyKey`.',
        description: adminLimitNote('money'),
        params: walletParams,
        body: z.object({
          kind: z.enum(['grant', 'adjustment', 'refund']),
          amount: z
            .number()
            .int()
            .min(-MAX_CREDITS_PER_ENTRY)
            .max(MAX_CREDITS_PER_ENTRY)
            .refine((value) => value !== 0, 'must not be zero'),
          reason: z.string().trim().min(3).max(500),
          idempotencyKey: z.string().min(8).max(200),
          requestId: z.string().max(200).optional(),
        }),
        response: {
          200: z.object({ entryId: z.string(), balance: credits, duplicate: z.boolean() }),
          ...errorResponses(400, 401, 402, 403, 404, 409, 422, 429),
        },
      },
    },
    async (request) => {
      await customerWallet(request.params.walletId);
      const posted = await postEntry(app.db, {
        walletId: request.params.walletId,
        kind: request.body.kind,
        amount: request.body.amount,
        reason: request.body.reason,
        idempotencyKey: `admin:${request.body.idempotencyKey}`,
        references: { requestId: request.body.requestId },
        details: { by: request.auth.userId },
      });
      return { ...posted, entryId: String(posted.entryId) };
    },
  );

  routes.put(
    '/api/admin/billing/wallets/:walletId/plan',
    {
      preHandler: pricingChange,
      schema: {
        tags: ['billing admin'],
        summary: 'Moves a wallet to a plan; its monthly credits are granted by the next renewal run.',
        description: adminLimitNote('pricing'),
        params: walletParams,
        body: z.object({ plan: z.enum(Object.keys(plans) as [string, ...string[]]) }),
        response: { 200: z.object({ plan: z.string() }), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      await customerWallet(request.params.walletId);
      const plan = await setWalletPlan(app.db, {
        walletId: request.params.walletId,
        plan: request.body.plan,
      });
      return { plan: plan.id };
    },
  );

  // Admins who check at once (or one admin's repeated clicks) wait for the same scan instead of each starting one.
  const verifyLedgerShared = singleFlight(() => verifyLedger(app.db));
  routes.get(
    '/api/admin/billing/verify',
    {
      preHandler: [admin, adminLimit(app, 'ledgerScan')],
      schema: {
        tags: ['billing admin'],
        summary:
          'Recomputes every wallet from the ledger; lists the wallets that disagree (none when healthy).',
        description:
          'Checks asked for while one is running wait for it and get its answer; a check asked for after it ended ' +
          `reads the ledger afresh. ${adminLimitNote('ledgerScan')} For a scheduled check use \`npm run billing:check\`.`,
        response: {
          200: z.object({
            ok: z.boolean(),
            mismatches: z.array(
              z.object({
                walletId: z.string(),
                ownerType: z.string(),
                ownerId: z.string(),
                balance: credits,
                sumOfEntries: credits,
                held: credits,
                sumOfActiveHolds: credits,
              }),
            ),
          }),
          ...errorResponses(401, 403, 429),
        },
      },
    },
    async () => {
      const mismatches = await verifyLedgerShared();
      return { ok: mismatches.length === 0, mismatches };
    },
  );
}
