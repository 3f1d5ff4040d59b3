import { randomInt } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { generate } from 'otplib';
import { emailOutbox } from '../notifications/tables.js';
import { createSession } from './sessions.js';
import { type UserRole, users } from './tables.js';

/** Helpers for account tests: each flow comes from its own address so per-IP limits do not interfere. */
export function randomIp(): string {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

export async function waitForEmail(
  app: FastifyInstance,
  options: { to: string; template: string; after?: Date; timeoutMs?: number },
) {
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  for (;;) {
    const [row] = await app.db
      .select()
      .from(emailOutbox)
      .where(and(eq(emailOutbox.recipient, options.to), eq(emailOutbox.template, options.template)))
      .orderBy(desc(emailOutbox.createdAt))
      .limit(1);
    if (row && (!options.after || row.createdAt >= options.after)) return row;
    if (Date.now() > deadline) throw new Error(`no ${options.template} email to ${options.to}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The token of the `path` link in an email's text (null: the body was cleared after an SMTP delivery). */
export function tokenFromEmail(text: string | null, path: string): string {
  if (text === null) throw new Error(`no ${path} link: the email's body was cleared after its delivery`);
  const match = new RegExp(`${path}\\?token=([A-Za-z0-9_%-]+)`).exec(text);
  if (!match) throw new Error(`no ${path} link in the email`);
  return decodeURIComponent(match[1]!);
}

/** The one-time code of a `two_factor_code` email (null: the body was cleared after an SMTP delivery). */
export function codeFromEmail(text: string | null): string {
  if (text === null) throw new Error("no code: the email's body was cleared after its delivery");
  const match = /\b([a-z2-9]{5}-[a-z2-9]{5})\b/.exec(text);
  if (!match) throw new Error('no code in the email');
  return match[1]!;
}

export interface SignedInClient {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  ip: string;
  /** Bearer headers for app.inject. */
  headers: Record<string, string>;
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${randomInt(1e6)}@example.com`;
}

/** Signs up through the API, confirms the address from the email, and signs in with Bearer tokens. */
export async function signUpAndSignIn(
  app: FastifyInstance,
  options: { email?: string; password?: string; name?: string; verify?: boolean } = {},
): Promise<SignedInClient> {
  const email = options.email ?? uniqueEmail();
  const password = options.password ?? 'a sturdy passphrase 42';
  const ip = randomIp();
  const signUp = await app.inject({
    method: 'POST',
    url: '/api/auth/sign-up',
    remoteAddress: ip,
    payload: { email, password, name: options.name ?? 'Test Person' },
  });
  if (signUp.statusCode !== 202) throw new Error(`sign-up failed: ${signUp.body}`);
  if (options.verify !== false) {
    const mail = await waitForEmail(app, { to: email, template: 'verify_email' });
    const verified = await app.inject({
      method: 'POST',
      url: '/api/auth/verify-email',
      remoteAddress: ip,
      payload: { token: tokenFromEmail(mail.text, '/verify-email') },
    });
    if (verified.statusCode !== 200) throw new Error(`verification failed: ${verified.body}`);
  }
  return signInWithPassword(app, { email, password, ip });
}

export async function signInWithPassword(
  app: FastifyInstance,
  options: { email: string; password: string; ip?: string },
): Promise<SignedInClient> {
  const ip = options.ip ?? randomIp();
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/sign-in',
    remoteAddress: ip,
    payload: { email: options.email, password: options.password, tokenDelivery: 'body' },
  });
  return toClient(response, options.email, options.password, ip);
}

export function toClient(
  response: LightMyRequestResponse,
  email: string,
  password: string,
  ip: string,
): SignedInClient {
  if (response.statusCode !== 200 || response.json().status !== 'signed_in') {
    throw new Error(`sign-in failed: ${response.statusCode} ${response.body}`);
  }
  const body = response.json();
  return {
    userId: body.user.id,
    email,
    password,
    accessToken: body.tokens.accessToken,
    refreshToken: body.tokens.refreshToken,
    sessionId: body.session.id,
    ip,
    headers: { authorization: `Bearer ${body.tokens.accessToken}` },
  };
}

/**
 * A verified account with a session, written straight to the database: no argon2 and no email, for tests that need
 * many accounts (one per route, per row of a table). It has no password (like an OAuth-only account).
 */
export async function createSignedInAccount(
  app: FastifyInstance,
  options: { role?: UserRole; email?: string } = {},
): Promise<SignedInClient> {
  const email = options.email ?? uniqueEmail(options.role ?? 'user');
  const [user] = await app.db
    .insert(users)
    .values({ email, name: 'Test Person', role: options.role ?? 'user', emailVerifiedAt: new Date() })
    .returning({ id: users.id });
  const ip = randomIp();
  const tokens = await createSession(app.db, app.tokenKeys, {
    userId: user!.id,
    method: 'test',
    ip,
    ttlDays: 1,
  });
  return {
    userId: user!.id,
    email,
    password: '',
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    sessionId: tokens.sessionId,
    ip,
    headers: { authorization: `Bearer ${tokens.accessToken}` },
  };
}

/**
 * Turns on TOTP for a signed-in account through the API: its secret and the backup codes it was given. An account
 * without a password (createSignedInAccount) confirms with the code emailed to it, read from the outbox.
 */
export async function enableTwoFactor(
  app: FastifyInstance,
  client: SignedInClient,
): Promise<{ secret: string; backupCodes: string[] }> {
  const { secret } = (
    await app.inject({ method: 'POST', url: '/api/account/two-factor/setup', headers: client.headers })
  ).json();
  const proof = client.password
    ? { password: client.password }
    : { emailCode: await emailedTwoFactorCode(app, client, 'enable') };
  const enabled = await app.inject({
    method: 'POST',
    url: '/api/account/two-factor/enable',
    headers: client.headers,
    payload: { code: await generate({ secret }), ...proof },
  });
  if (enabled.statusCode !== 200)
    throw new Error(`enabling 2FA answered ${enabled.statusCode}: ${enabled.body}`);
  return { secret, backupCodes: enabled.json().backupCodes };
}

/** Asks for the code that confirms a 2FA change on an account without a password, and reads it from its email. */
export async function emailedTwoFactorCode(
  app: FastifyInstance,
  client: SignedInClient,
  action: 'enable' | 'disable',
): Promise<string> {
  const after = new Date();
  const asked = await app.inject({
    method: 'POST',
    url: '/api/account/two-factor/email-code',
    headers: client.headers,
    payload: { action },
  });
  if (asked.statusCode !== 202)
    throw new Error(`asking for a code answered ${asked.statusCode}: ${asked.body}`);
  const mail = await waitForEmail(app, { to: client.email, template: 'two_factor_code', after });
  return codeFromEmail(mail.text);
}
