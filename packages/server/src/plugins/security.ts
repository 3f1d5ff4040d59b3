import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import { publicUrl } from '../config/env.js';
import { AppError } from '../errors.js';
import { recordRouteAccess } from './route-access.js';

/** The origins allowed by CORS: the public origin plus CORS_ORIGINS (comma-separated). */
export function allowedOrigins(env: FastifyInstance['env']): Set<string> {
  const origins = new Set([new URL(publicUrl(env)).origin]);
  for (const entry of (env.CORS_ORIGINS ?? '').split(',')) {
    const trimmed = entry.trim();
    if (!trimmed) continue;
    origins.add(new URL(trimmed).origin);
  }
  return origins;
}

/**
 * Security headers with a content security policy for the SPA (everything from our own origin; data: images for QR
 * codes), and CORS limited to an allow-list. /docs keeps its own, stricter policy set by swagger-ui. Also starts the
 * record of every route's declared access (`app.routeAccess`).
 */
export async function registerSecurity(app: FastifyInstance): Promise<void> {
  // First, so the list of routes and who may call them covers every route, documentation and CORS included.
  recordRouteAccess(app);
  // helmet itself, built once: @fastify/helmet rebuilds the middleware (and re-parses the policy) on every request,
  // which measured 4–5% of a proxied /v1 call's CPU.
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        // React sets style attributes; no inline <style> or script is needed.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        mediaSrc: ["'self'", 'blob:'],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
    },
    // Cross-origin isolation would break loading generated media from object storage later.
    crossOriginEmbedderPolicy: false,
    strictTransportSecurity:
      app.env.COOKIE_SECURE && publicUrl(app.env).startsWith('https:')
        ? { maxAge: 31_536_000, includeSubDomains: true }
        : false,
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
  });
  app.addHook('onRequest', (request, reply, done) => {
    // /v1 answers JSON and event streams to programs, never a document a browser renders, so the document policies
    // (CSP, framing, referrer…) say nothing there; nosniff still does. Setting a dozen headers cost 3–4% of a call.
    if (request.url.startsWith('/v1/')) {
      reply.raw.setHeader('x-content-type-options', 'nosniff');
      done();
      return;
    }
    securityHeaders(request.raw, reply.raw, (error) => done(error as Error | undefined));
  });
  app.addHook('preValidation', (request, _reply, done) => {
    if (!request.url.startsWith('/api/')) return done();
    const where =
      nulCharacterIn(request.params, 'params') ??
      nulCharacterIn(request.query, 'querystring') ??
      nulCharacterIn(request.body, 'body');
    if (!where) return done();
    done(
      new AppError('validation_failed', 'The request is not valid.', {
        details: [{ path: where, message: 'must not contain NUL characters' }],
      }),
    );
  });
  const origins = allowedOrigins(app.env);
  await app.register(cors, {
    // Only a browser's cross-origin request carries Origin. Any other call (SDKs and servers: nearly all of /v1)
    // gets Vary: Origin and no CORS header: those would be bytes on every answer that no one reads.
    origin: (origin, callback) => callback(null, origin !== undefined && origins.has(origin)),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // allowedHeaders left out: a preflight from an allowed (trusted) origin may send the headers it asks for, which
    // the browser SDKs need (`x-stainless-*`; `anthropic-version`, `x-api-key`).
    exposedHeaders: [
      'x-request-id',
      'retry-after',
      'x-should-retry',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-webox-credits-charged',
      'x-webox-credits-balance',
      'x-webox-provider',
      'x-webox-served-model',
      'x-webox-cache',
      'x-webox-warnings',
    ],
    maxAge: 600,
  });
}

/**
 * Where a NUL character hides in parsed input, if anywhere. PostgreSQL text cannot hold one, so without this check
 * a NUL typed into a search box or name ends as a 500 from the database; no person means to send one. Walks
 * without recursion so deeply nested JSON cannot overflow the stack; binary bodies (uploads) are not text.
 */
export function nulCharacterIn(value: unknown, root: string): string | undefined {
  const pending: Array<[unknown, string]> = [[value, root]];
  while (pending.length > 0) {
    const [current, path] = pending.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return path;
    } else if (current && typeof current === 'object' && !Buffer.isBuffer(current)) {
      for (const [key, entry] of Object.entries(current)) {
        if (key.includes('\u0000')) return path;
        pending.push([entry, `${path}.${key}`]);
      }
    }
  }
  return undefined;
}
