import { isIP } from 'node:net';
import { z } from 'zod';

/** Thrown when a setting is missing or malformed; its message is the one line printed at boot. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const postgresUrl = z
  .string()
  .trim()
  .refine((value) => /^postgres(ql)?:\/\/.+/.test(value), 'must be a postgres:// or postgresql:// URL');

const redisUrl = z
  .string()
  .trim()
  .refine((value) => /^rediss?:\/\/.+/.test(value), 'must be a redis:// or rediss:// URL');

const integer = (minimum: number, maximum: number) => z.coerce.number().int().min(minimum).max(maximum);

const booleanFlag = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

const namedSubnets = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrSubnet(entry: string): boolean {
  if (namedSubnets.has(entry)) return true;
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Which reverse proxies may set X-Forwarded-*: none (`false`, `0`), or the listed addresses and CIDRs (and `loopback`,
 * `linklocal`, `uniquelocal`). `true` trusts every hop, so any client could choose the address that per-IP limits,
 * sessions and the audit log see; a hop count cannot tell the proxy from a client that reaches the server directly
 * (Fastify itself now ignores one). Both are refused at boot rather than silently weakened.
 */
const trustProxy = z
  .string()
  .trim()
  .transform((value, context): false | string[] => {
    if (value === 'false' || value === '0') return false;
    const entries = value.split(',').map((entry) => entry.trim().toLowerCase());
    if (entries.every(isAddressOrSubnet)) return entries;
    context.addIssue({
      code: 'custom',
      message:
        "must be false or the reverse proxies' addresses or CIDRs, comma-separated (e.g. 10.0.0.0/8,127.0.0.1); true and hop counts are refused because a client reaching the server directly could forge its address",
    });
    return z.NEVER;
  });

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** Every environment variable the server reads, with its default. */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
    /** Port the HTTP server listens on. */
    PORT: integer(0, 65_535).default(8080),
    /** Interface to bind; 127.0.0.1 keeps a laptop install private, use 0.0.0.0 in containers. */
    HOST: z.string().trim().min(1).default('127.0.0.1'),
    /** Public origin used in links sent to people (setup link, emails). Defaults to http://localhost:PORT. */
    PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** PostgreSQL server; without it the embedded PGlite database in DATA_DIR is used. */
    DATABASE_URL: postgresUrl.optional(),
    /** Folder for the embedded database and local files. */
    DATA_DIR: z.string().trim().min(1).default('./data'),
    /** Redis server for shared state; without it, in-process memory. */
    REDIS_URL: redisUrl.optional(),
    /** Prefix of every Redis key, so several deployments or test runs can share one server. */
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'letters, digits, colon, underscore or dash (at most 64)')
      .default('webox:'),
    /** Gateway configuration file (providers, models, prices, routes). */
    WEBOX_CONFIG: z.string().trim().min(1).default('./webox.config.yaml'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Largest accepted request body in bytes (default 4 MiB: room for a few inline images). */
    BODY_LIMIT: integer(1_024, 100 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Server processes on this machine (Node cluster); more than 1 needs DATABASE_URL. */
    WEBOX_WORKERS: integer(1, 256).default(1),
    /** How long SIGTERM waits for in-flight requests and streams before closing them. */
    SHUTDOWN_TIMEOUT_MS: integer(0, 600_000).default(10_000),
    /** Bearer token a Prometheus scraper sends to read /metrics from another host (loopback needs none). */
    METRICS_TOKEN: z.string().trim().min(16, 'must be at least 16 characters').optional(),
    /** Reverse proxies whose X-Forwarded-* headers count: false, or their addresses/CIDRs (comma-separated). */
    TRUST_PROXY: trustProxy.default(false),
    /** First admin, created at first start when both are set; otherwise a one-time setup link is printed. */
    ADMIN_EMAIL: z.email().optional(),
    ADMIN_PASSWORD: z.string().min(10, 'must be at least 10 characters').max(256).optional(),
    /** Lifetime of the printed setup link. */
    SETUP_TOKEN_TTL_MINUTES: integer(1, 7 * 24 * 60).default(24 * 60),
    /**
     * IANA time zone whose midnights reset daily and monthly quotas and budgets and date usage reports; receipts are
     * numbered by its calendar year and dated in it.
     */
    BILLING_TIME_ZONE: z
      .string()
      .trim()
      .refine(isTimeZone, 'must be an IANA time zone such as Africa/Algiers')
      .default('Africa/Algiers'),
    /**
     * Seconds a credit hold lives when its request never settles (a crashed process). Keep it above the longest
     * request: a settle after expiry is still charged, but only from what the wallet has left.
     */
    HOLD_TTL_SECONDS: integer(5, 86_400).default(900),
    /** `off` makes every /v1 call free (self-hosted use without credits); `on` charges the caller's wallet. */
    BILLING: z.enum(['on', 'off']).default('on'),
    /** Credits per unit of each display currency, e.g. `DZD:100,EUR:15000,USD:13500` (1 credit = 0.01 DZD). */
    BILLING_CREDITS_PER_UNIT: z
      .string()
      .trim()
      .regex(/^[A-Z]{3}:[1-9]\d*(,[A-Z]{3}:[1-9]\d*)*$/, 'must be comma-separated CUR:<credits per unit>')
      .default('DZD:100,EUR:15000,USD:13500'),
    /** HS256 key for access tokens (32+ characters); without it one is generated once and kept in the database. */
    AUTH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    /** Lifetime of access tokens in seconds (at most 15 minutes). */
    ACCESS_TOKEN_TTL_SECONDS: integer(30, 900).default(900),
    /** Lifetime of a session (its refresh tokens) in days. */
    SESSION_TTL_DAYS: integer(1, 365).default(30),
    /** Mark auth cookies Secure; browsers accept Secure cookies on http://localhost too. */
    COOKIE_SECURE: booleanFlag.default(true),
    /** Extra origins allowed by CORS, comma-separated (the PUBLIC_URL origin is always allowed). */
    CORS_ORIGINS: z.string().trim().optional(),
    /** Make two-factor authentication mandatory for admin and support accounts (admins can change it at runtime). */
    REQUIRE_2FA_FOR_STAFF: booleanFlag.default(false),
    /** SMTP server for outgoing email (smtp:// or smtps://); without it, emails wait in the admin-readable outbox. */
    SMTP_URL: z
      .string()
      .trim()
      .refine((value) => /^smtps?:\/\/.+/.test(value), 'must be an smtp:// or smtps:// URL')
      .optional(),
    /** Sender of outgoing email. */
    MAIL_FROM: z.string().trim().min(3).default('WeBox <no-reply@webox.local>'),
    /**
     * Master keys that encrypt stored provider keys, newest first: `v2:<base64 32 bytes>,v1:<...>`. Without it one is
     * generated and kept in the database (fine on a laptop; set it in production so keys and data live apart).
     */
    MASTER_KEYS: z
      .string()
      .trim()
      .regex(
        /^v\d+:[A-Za-z0-9+/=_-]{43,44}(,v\d+:[A-Za-z0-9+/=_-]{43,44})*$/,
        'must be comma-separated v<N>:<base64 of 32 bytes>',
      )
      .optional(),
    /** Days between a deletion request and the account being erased. */
    ACCOUNT_DELETION_GRACE_DAYS: integer(0, 365).default(30),
    /** OAuth sign-in; each provider is on when its client id and secret are both set. */
    GOOGLE_CLIENT_ID: z.string().trim().optional(),
    GOOGLE_CLIENT_SECRET: z.string().trim().optional(),
    /** OpenID Connect issuer of Google (overridable for tests or a compatible provider). */
    GOOGLE_ISSUER: z.url().default('https://accounts.google.com'),
    GITHUB_CLIENT_ID: z.string().trim().optional(),
    GITHUB_CLIENT_SECRET: z.string().trim().optional(),
    /** GitHub web and API origins (overridable for GitHub Enterprise or tests). */
    GITHUB_URL: z.url().default('https://github.com'),
    GITHUB_API_URL: z.url().default('https://api.github.com'),
    /** Chargily Pay v2 (DZD): offered when the secret key is set. The API URL defaults by key (test_ or live). */
    CHARGILY_SECRET_KEY: z.string().trim().optional(),
    CHARGILY_API_URL: z.url().optional(),
    /** Stripe (EUR, USD): offered when both the secret key and the webhook signing secret are set. */
    STRIPE_SECRET_KEY: z.string().trim().optional(),
    STRIPE_WEBHOOK_SECRET: z.string().trim().optional(),
    /** Stripe API origin (tests point it at a local server). */
    STRIPE_API_URL: z.url().default('https://api.stripe.com'),
    /** PayPal Orders v2 (EUR, USD): offered when the client id, secret and webhook id are set. */
    PAYPAL_CLIENT_ID: z.string().trim().optional(),
    PAYPAL_CLIENT_SECRET: z.string().trim().optional(),
    PAYPAL_WEBHOOK_ID: z.string().trim().optional(),
    /** PayPal REST origin: https://api-m.paypal.com (live) or https://api-m.sandbox.paypal.com. */
    PAYPAL_API_URL: z.url().default('https://api-m.paypal.com'),
    /** Deadline of each call to a payment provider. */
    PAYMENTS_TIMEOUT_MS: integer(100, 120_000).default(15_000),
  })
  .superRefine((env, context) => {
    if (Boolean(env.ADMIN_EMAIL) !== Boolean(env.ADMIN_PASSWORD)) {
      context.addIssue({
        code: 'custom',
        path: [env.ADMIN_EMAIL ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL'],
        message: 'ADMIN_EMAIL and ADMIN_PASSWORD are set together or not at all',
      });
    }
    if (env.WEBOX_WORKERS > 1 && !env.DATABASE_URL) {
      context.addIssue({
        code: 'custom',
        path: ['WEBOX_WORKERS'],
        message: 'more than 1 worker needs DATABASE_URL (the embedded PGlite database serves one process)',
      });
    }
  });

export type Env = z.output<typeof envSchema>;

/**
 * Reads the environment. Empty strings count as unset, so `FOO=` in a .env file means "default".
 * A bad value throws a ConfigError whose message names the variable and what is wrong, on one line.
 */
export function loadEnv(source: NodeJS.ProcessEnv): Env {
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = String(issue.path[0] ?? 'environment');
  throw new ConfigError(`Invalid setting ${name}: ${issue.message}`);
}

/** The origin used in links, without a trailing slash. */
export function publicUrl(env: Env): string {
  return (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
}
