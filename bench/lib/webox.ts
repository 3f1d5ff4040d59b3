import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type Started, startProcess, tsNode } from './processes.js';

export const BENCH_MODEL = 'bench-model';
const ADMIN_EMAIL = 'bench-admin@example.com';
const ADMIN_PASSWORD = 'a benchmark passphrase 42';

export interface WeboxInstance extends Started {
  billing: boolean;
  workers: number;
  database: 'pglite' | 'postgres';
  /** Fresh virtual keys of the benchmark user (high RPM/TPM limits, so the limiter runs but never refuses). */
  createKeys(count: number): Promise<string[]>;
  close(): Promise<void>;
}

export interface StartWeboxOptions {
  upstream: string;
  billing: boolean;
  workers?: number;
  /** Extra node flags (e.g. --cpu-prof), and extra arguments of bench/servers/webox.ts. */
  nodeFlags?: string[];
  extraArgs?: string[];
  env?: Record<string, string>;
  /**
   * Run the TypeScript sources through tsx instead of the compiled server (`npm start` runs the compiled one);
   * default: WEBOX_BENCH_SOURCE=1, which `npm run bench -- --source` sets.
   */
  source?: boolean;
}

/**
 * Starts WeBox (bench/servers/webox.ts) as its own process on a fresh database — a new PostgreSQL database when
 * DATABASE_URL is set, else a new PGlite folder — and prepares it through its real HTTP API: sign in as the admin,
 * move the wallet to a plan without request quotas, price the model, grant credits.
 */
export async function startWebox(options: StartWeboxOptions): Promise<WeboxInstance> {
  const folder = mkdtempSync(path.join(tmpdir(), 'webox-bench-'));
  const configPath = path.join(folder, 'webox.config.json');
  // JSON is YAML: the server reads it like its own config file.
  writeFileSync(configPath, JSON.stringify(benchGatewayConfig(`${options.upstream}/v1`)));
  const database = await freshDatabase();
  const source = options.source ?? process.env.WEBOX_BENCH_SOURCE === '1';
  const workers = options.workers ?? 1;
  const entry = tsNode(
    'bench/servers/webox.ts',
    [
      '--billing',
      options.billing ? 'on' : 'off',
      ...(source ? ['--source'] : []),
      ...(options.extraArgs ?? []),
    ],
    options.nodeFlags ?? [],
    { built: !source },
  );
  let started: Started;
  try {
    started = await startProcess({
      name: `webox (billing ${options.billing ? 'on' : 'off'}, ${workers} worker${workers > 1 ? 's' : ''})`,
      ...entry,
      env: {
        NODE_ENV: 'production',
        PORT: '0',
        DATA_DIR: path.join(folder, 'data'),
        WEBOX_CONFIG: configPath,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        WEBOX_WORKERS: String(workers),
        DATABASE_URL: database.url,
        REDIS_PREFIX: `webox_bench_${randomBytes(4).toString('hex')}:`,
        ...options.env,
      },
      timeoutMs: 120_000,
    });
  } catch (error) {
    await database.drop();
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
  const api: ApiCall = async (method, url, body, token) => {
    const response = await fetch(`${started.origin}${url}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const account = await prepareAccount(api, {
    billing: options.billing,
    email: ADMIN_EMAIL,
    password: ADMIN_PASSWORD,
  });
  return {
    ...started,
    billing: options.billing,
    workers,
    database: database.url ? 'postgres' : 'pglite',
    createKeys: account.createKeys,
    async close() {
      await started.stop();
      await database.drop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** The providers and models of the benchmark: one OpenAI-compatible provider at `baseUrl`, one priced model. */
export function benchGatewayConfig(baseUrl: string) {
  return {
    providers: {
      // allowPrivateNetwork: the upstream is on 127.0.0.1 (and no DNS lookup is made for it).
      bench: { type: 'openai-compatible', baseUrl, keys: ['sk-bench-upstream'], allowPrivateNetwork: true },
    },
    models: {
      [BENCH_MODEL]: {
        provider: 'bench',
        model: 'gpt-4o-mini',
        contextWindow: 128_000,
        maxOutputTokens: 16_384,
        capabilities: ['chat'],
        price: { inputPerMillion: 150_000, outputPerMillion: 600_000 },
      },
    },
  };
}

/** Calls WeBox's HTTP API (over a socket, or with inject() in process) and answers its JSON; throws on a non-2xx. */
export type ApiCall = (
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  body?: unknown,
  token?: string,
) => Promise<Record<string, unknown>>;

/**
 * Prepares the benchmark account through WeBox's real API: the admin signs in; with billing, its wallet moves to the
 * Business plan (no daily request cap), the model is priced and credits are granted. Keys get high RPM/TPM limits,
 * so the limiter runs but never refuses.
 */
export async function prepareAccount(
  api: ApiCall,
  options: { billing: boolean; email: string; password: string },
): Promise<{ createKeys(count: number): Promise<string[]> }> {
  const signedIn = await api('POST', '/api/auth/sign-in', {
    email: options.email,
    password: options.password,
    tokenDelivery: 'body',
  });
  const token = (signedIn.tokens as { accessToken: string }).accessToken;
  if (options.billing) {
    const { walletId } = (await api('GET', '/api/billing/balance', undefined, token)) as { walletId: string };
    await api('PUT', `/api/admin/billing/wallets/${walletId}/plan`, { plan: 'business' }, token);
    await api(
      'PUT',
      '/api/admin/billing/prices',
      {
        itemKey: `model:${BENCH_MODEL}`,
        kind: 'tokens',
        rates: { inputPerMillion: 150_000, outputPerMillion: 600_000 },
      },
      token,
    );
    await api(
      'POST',
      `/api/admin/billing/wallets/${walletId}/entries`,
      {
        kind: 'grant',
        amount: 1_000_000_000_000,
        reason: 'benchmark credits',
        idempotencyKey: `bench-${walletId}`,
      },
      token,
    );
  }
  return {
    async createKeys(count) {
      const keys: string[] = [];
      for (let index = 0; index < count; index += 1) {
        const created = await api(
          'POST',
          '/api/keys',
          { name: `bench-${index}`, rpmLimit: 100_000, tpmLimit: 100_000_000 },
          token,
        );
        keys.push(created.key as string);
      }
      return keys;
    },
  };
}

/** A new database on the DATABASE_URL server (dropped afterwards), or nothing: PGlite in the instance's folder. */
async function freshDatabase(): Promise<{ url?: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { drop: async () => {} };
  const name = `webox_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const target = new URL(base);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    async drop() {
      const dropper = new pg.Client({ connectionString: base });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}
