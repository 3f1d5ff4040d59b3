import { randomUUID } from 'node:crypto';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { updateSecurityPolicy } from '../modules/accounts/policy.js';
import { users } from '../modules/accounts/tables.js';
import { createSignedInAccount, randomIp, type SignedInClient } from '../modules/accounts/testing.js';
import { backendPairs } from '../testing/backend-pairs.js';
import { type GatewayHarness, startGatewayHarness } from '../testing/gateway-harness.js';
import type { RegisteredRoute } from './route-access.js';

/**
 * Routes that cannot carry a declaration of their own: registered by Fastify plugins (documentation, CORS, static
 * files). Anything else without a declaration fails the walk.
 */
const declaredHere: Array<{ route: RegExp; access: 'public' | 'guarded'; why: string }> = [
  { route: /^(GET|HEAD) \/docs(\/.*)?$/, access: 'public', why: 'API documentation (swagger-ui)' },
  { route: /^(GET|HEAD) \/openapi\.json$/, access: 'public', why: 'the OpenAPI document' },
  { route: /^OPTIONS \*$/, access: 'public', why: 'CORS preflight (@fastify/cors)' },
  {
    route: /^(GET|HEAD) \/(index\.html|assets\/[\w.-]+)$/,
    access: 'public',
    why: 'the built web app (@fastify/static, when packages/web/dist exists)',
  },
];

const payloads = [
  "Robert'); DROP TABLE users;--",
  '<script>alert(document.cookie)</script><img src=x onerror=alert(1)>',
  "' OR '1'='1' --",
  '%_\\%',
  'nul\u0000byte',
];

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  minItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  default?: unknown;
};

/** Strings that satisfy the patterns our schemas use (codes, paths, hex ids), tried in order. */
const patternCandidates = [
  '123456',
  '/',
  '/studio',
  'DZD',
  'model:gpt-test',
  'abcdef0123456789',
  'a',
  '2026-01-01',
];

/** Fields whose rules live in refinements, which JSON Schema cannot carry: a value each accepts. */
const knownFields: Record<string, () => unknown> = {
  timeZone: () => 'Africa/Algiers',
  dataUrl: () => 'data:image/png;base64,iVBORw0KGgo=',
  expiresAt: () => new Date(Date.now() + 86_400_000).toISOString(),
  'idempotency-key': () => randomUUID(),
};

function jsonSchemaOf(schema: unknown): JsonSchema | undefined {
  if (!(schema instanceof z.ZodType)) return undefined;
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/**
 * A value the schema accepts, with `text` in every free-text string (no format, enum or pattern): the shape a
 * handler must survive whatever a person types.
 */
function sample(schema: JsonSchema | undefined, text: string, every: boolean): unknown {
  if (!schema) return undefined;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const choice = schema.anyOf ?? schema.oneOf;
  if (choice) return sample(choice.find((option) => option.type !== 'null') ?? choice[0], text, every);
  if (schema.allOf) return sample(Object.assign({}, ...schema.allOf), text, every);
  const type = Array.isArray(schema.type) ? schema.type.find((entry) => entry !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const value: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (!every && !schema.required?.includes(name)) continue;
        value[name] = knownFields[name]?.() ?? sample(property, text, every);
      }
      return value;
    }
    case 'array': {
      const item = schema.items ?? schema.prefixItems?.[0];
      return Array.from({ length: Math.max(every ? 1 : 0, schema.minItems ?? 0) }, () =>
        sample(item, text, every),
      );
    }
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return false;
    case 'string':
      return sampleString(schema, text);
    default:
      return schema.default ?? text;
  }
}

function sampleString(schema: JsonSchema, text: string): string {
  switch (schema.format) {
    case 'uuid':
      return randomUUID();
    case 'email':
      return `someone-${randomUUID().slice(0, 8)}@example.com`;
    case 'date-time':
      return new Date().toISOString();
    case 'date':
      return '2026-01-01';
    case 'uri':
    case 'url':
      return 'https://example.com/';
  }
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern);
    const fits = [text, ...patternCandidates].find(
      (candidate) => pattern.test(candidate) && candidate.length >= (schema.minLength ?? 0),
    );
    if (fits) return fits;
  }
  const padded = text.padEnd(schema.minLength ?? 0, 'a');
  return schema.maxLength !== undefined ? padded.slice(0, schema.maxLength) : padded;
}

type RouteSchemas = { params?: unknown; querystring?: unknown; body?: unknown; headers?: unknown };

const asStrings = (value: unknown) =>
  Object.fromEntries(Object.entries((value ?? {}) as object).map(([key, entry]) => [key, String(entry)]));

/**
 * A request its schemas accept, with `text` in free-text fields. Only required fields, unless `every` (then each
 * optional field carries `text` too). Bodies that are not JSON objects (raw uploads) are left out.
 */
function requestFor(route: RegisteredRoute, text = 'sample', every = false): InjectOptions {
  const schema = (route.schema ?? {}) as RouteSchemas;
  const params = asStrings(sample(jsonSchemaOf(schema.params), text, true));
  const url = route.url.replace(/:(\w+)/g, (_, name: string) =>
    encodeURIComponent(params[name] ?? randomUUID()),
  );
  const query = sample(jsonSchemaOf(schema.querystring), text, every);
  const headers = sample(jsonSchemaOf(schema.headers), text, false);
  const body = sample(jsonSchemaOf(schema.body), text, every);
  return {
    method: route.method as InjectOptions['method'],
    url,
    remoteAddress: randomIp(),
    headers: asStrings(headers),
    ...(query ? { query: asStrings(query) } : {}),
    ...(body && typeof body === 'object' ? { payload: body as InjectOptions['payload'] } : {}),
  };
}

/** The same request with the caller's credentials added to the headers its schema asks for. */
function requestAs(
  route: RegisteredRoute,
  caller: Record<string, string> | undefined,
  text?: string,
  every?: boolean,
) {
  const request = requestFor(route, text, every);
  return { ...request, headers: { ...(request.headers as Record<string, string>), ...caller } };
}

const name = (route: RegisteredRoute) => `${route.method} ${route.url}`;

/** The routes a staff member who must enrol in 2FA may still call (README: profile read, enrolment, sign-out). */
const openWhileEnrolling = [
  'GET /api/account',
  'GET /api/account/two-factor',
  'POST /api/account/two-factor/setup',
  'POST /api/account/two-factor/email-code',
  'POST /api/account/two-factor/enable',
  'POST /api/account/password',
  'POST /api/auth/sign-out',
  'POST /api/auth/verify-email/resend',
];

for (const pair of backendPairs()) {
  describe(`every route declares who may call it, on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let routes: RegisteredRoute[];
    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
      // HEAD routes repeat their GET; wildcard routes are files and preflights.
      routes = harness.app.routeAccess.filter((route) => route.method !== 'HEAD');
    });
    afterAll(() => harness.close());
    const app = (): FastifyInstance => harness.app;
    const signedInRoutes = () =>
      routes.filter((route) => route.access?.kind === 'signed_in' || declaredAs(route) === 'guarded');
    const declaredAs = (route: RegisteredRoute) =>
      declaredHere.find((entry) => entry.route.test(name(route)))?.access;

    it('finds a declaration on every route: authenticate() with its roles, or config.public with a reason', () => {
      expect(routes.length).toBeGreaterThan(60);
      const undeclared = routes.filter((route) => !route.access && !declaredAs(route)).map(name);
      expect(undeclared, 'declare with authenticate(...) or config: { public: "why" }').toEqual([]);
      const publicRoutes = routes.filter((route) => route.access?.kind === 'public').map(name);
      expect(publicRoutes).toEqual(expect.arrayContaining(['POST /api/auth/sign-in', 'POST /api/setup']));
      expect(publicRoutes.filter((route) => route.includes('/api/admin/'))).toEqual([]);
    });

    it('answers 401 to anonymous callers on every signed-in route, whatever it is asked', async () => {
      const answers: string[] = [];
      for (const route of signedInRoutes()) {
        const response = await app().inject(requestFor(route));
        if (response.statusCode !== 401)
          answers.push(`${name(route)} → ${response.statusCode} ${response.body}`);
      }
      expect(answers).toEqual([]);
    });

    it('answers 403 forbidden to plain users on every staff route, and lets admins in', async () => {
      const person = await createSignedInAccount(app());
      const admin = await createSignedInAccount(app(), { role: 'admin' });
      const staffRoutes = routes.filter(
        (route) =>
          route.access?.kind === 'signed_in' && route.access.roles && !route.access.roles.includes('user'),
      );
      expect(staffRoutes.length).toBeGreaterThan(10);
      const wrong: string[] = [];
      for (const route of staffRoutes) {
        const asPerson = await app().inject(requestAs(route, person.headers));
        if (asPerson.statusCode !== 403 || asPerson.json().error.code !== 'forbidden')
          wrong.push(`${name(route)} as a user → ${asPerson.statusCode}`);
        if (route.method !== 'GET') continue;
        const asAdmin = await app().inject(requestAs(route, admin.headers));
        if (asAdmin.statusCode === 401 || asAdmin.statusCode === 403)
          wrong.push(`${name(route)} as an admin → ${asAdmin.statusCode}`);
      }
      expect(wrong).toEqual([]);
    });

    it('refuses every staff route to an organisation owner, admin-only ones to support, to an admin’s own API key, and to an admin’s cookie without its session’s CSRF token', async () => {
      const staffRoutes = routes.filter(
        (route) =>
          route.access?.kind === 'signed_in' && route.access.roles && !route.access.roles.includes('user'),
      );
      expect(staffRoutes.length).toBeGreaterThan(10);
      // An organisation's owner is a role inside that organisation, never a staff role of the platform.
      const owner = await createSignedInAccount(app());
      const organization = await app().inject({
        method: 'POST',
        url: '/api/organizations',
        headers: owner.headers,
        payload: { name: 'Owners Inc' },
      });
      expect(organization.statusCode, organization.body).toBe(201);
      const admin = await createSignedInAccount(app(), { role: 'admin' });
      // Keys are for /v1: even an admin's own key opens no back-office route.
      const adminKey = await harness.createKey({ userId: admin.userId });
      const cookie = { cookie: `webox_access=${admin.accessToken}` };
      const anotherSession = await createSignedInAccount(app(), { role: 'admin' });
      const support = await createSignedInAccount(app(), { role: 'support' });
      const wrong: string[] = [];
      for (const route of staffRoutes) {
        if (route.access?.kind === 'signed_in' && !route.access.roles?.includes('support')) {
          const asSupport = await app().inject(requestAs(route, support.headers));
          if (asSupport.statusCode !== 403 || asSupport.json().error.code !== 'forbidden')
            wrong.push(`${name(route)} as support → ${asSupport.statusCode}`);
        }
        const asOwner = await app().inject(requestAs(route, owner.headers));
        if (asOwner.statusCode !== 403 || asOwner.json().error.code !== 'forbidden')
          wrong.push(`${name(route)} as an organisation owner → ${asOwner.statusCode}`);
        const withKey = await app().inject(requestAs(route, { authorization: `Bearer ${adminKey}` }));
        if (withKey.statusCode !== 401)
          wrong.push(`${name(route)} with an admin's API key → ${withKey.statusCode}`);
        if (route.method === 'GET') continue;
        // What a cross-site form can send: the browser's cookie, no header; or a token of another session.
        for (const token of [undefined, app().tokenKeys.csrfToken(anotherSession.sessionId)]) {
          const forged = await app().inject(
            requestAs(route, token ? { ...cookie, 'x-csrf-token': token } : cookie),
          );
          if (forged.statusCode !== 403 || forged.json().error.code !== 'csrf_invalid')
            wrong.push(
              `${name(route)} by cookie, CSRF ${token ? 'of another session' : 'absent'} → ${forged.statusCode}`,
            );
        }
      }
      expect(wrong).toEqual([]);
    });

    it('keeps staff who must enrol in 2FA to enrolment, profile read and sign-out, with two_factor_required elsewhere', async () => {
      const enrolling = routes
        .filter((route) => route.access?.kind === 'signed_in' && route.access.allowMissingTwoFactor)
        .map(name);
      expect(enrolling.sort()).toEqual([...openWhileEnrolling].sort());

      const staff: SignedInClient[] = [
        await createSignedInAccount(app(), { role: 'admin' }),
        await createSignedInAccount(app(), { role: 'support' }),
      ];
      await updateSecurityPolicy(app().db, { requireTwoFactorForStaff: true, actorId: staff[0]!.userId });
      try {
        const wrong: string[] = [];
        for (const route of signedInRoutes()) {
          if (openWhileEnrolling.includes(name(route))) continue;
          for (const member of staff) {
            const response = await app().inject(requestAs(route, member.headers));
            if (response.statusCode !== 403 || response.json().error.code !== 'two_factor_required')
              wrong.push(`${name(route)} → ${response.statusCode} ${response.body.slice(0, 80)}`);
          }
        }
        expect(wrong).toEqual([]);
        const me = await app().inject({ url: '/api/account', headers: staff[1]!.headers });
        expect(me.json()).toMatchObject({ user: { role: 'support' }, twoFactorSetupRequired: true });
        const setup = await app().inject({
          method: 'POST',
          url: '/api/account/two-factor/setup',
          headers: staff[1]!.headers,
        });
        expect(setup.statusCode).toBe(200);
        // A plain user is not concerned by the policy.
        const person = await createSignedInAccount(app());
        expect(
          (await app().inject({ url: '/api/account/sessions', headers: person.headers })).statusCode,
        ).toBe(200);
      } finally {
        await updateSecurityPolicy(app().db, { requireTwoFactorForStaff: false, actorId: staff[0]!.userId });
      }
    });

    it('survives SQL, script and NUL payloads in every text field of every route: no 5xx, no markup served as a page', async () => {
      const key = await harness.createKey();
      const failures: string[] = [];
      let succeeded = 0;
      for (const route of routes) {
        const schema = (route.schema ?? {}) as RouteSchemas;
        if (!schema.body && !schema.querystring && !schema.params) continue;
        if (route.url.includes('*')) continue;
        // A fresh account per route: rate limits and side effects (sessions ended, deletion scheduled) stay apart.
        const access = route.access;
        const caller =
          access?.kind === 'public'
            ? undefined
            : await createSignedInAccount(app(), {
                role:
                  access?.kind === 'signed_in' && access.roles && !access.roles.includes('user')
                    ? 'admin'
                    : 'user',
              });
        const headers =
          declaredAs(route) === 'guarded' ? { authorization: `Bearer ${key}` } : caller?.headers;
        for (const text of payloads) {
          const response = await app().inject(requestAs(route, headers, text, true));
          if (response.statusCode >= 500)
            failures.push(`${name(route)} ${JSON.stringify(text)} → ${response.body}`);
          if (response.statusCode < 300) succeeded += 1;
          const type = String(response.headers['content-type'] ?? '');
          if (response.body.includes('<script>') && !type.startsWith('application/json'))
            failures.push(`${name(route)} reflects markup as ${type}`);
        }
      }
      expect(failures).toEqual([]);
      // Enough of them got past validation into handlers and the database for the sweep to mean something.
      expect(succeeded).toBeGreaterThan(60);
      // The tables the payloads aimed at are still there, with everyone in them.
      const everyone = await app().db.select({ id: users.id }).from(users);
      expect(everyone.length).toBeGreaterThan(10);
      // Some 600 requests and an account per route: 3 s when idle, 17-20 s on a loaded machine. It asserts what each
      // answer was, never how fast, so a loaded machine gets the room it needs.
    }, 120_000);
  });
}
