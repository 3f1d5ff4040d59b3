import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import { publicUrl } from '../config/env.js';

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
 * codes), and CORS limited to an allow-list. /docs keeps its own, stricter policy set by swagger-ui.
 */
export async function registerSecurity(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
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
  const origins = allowedOrigins(app.env);
  await app.register(cors, {
    origin: (origin, callback) => callback(null, origin === undefined || origins.has(origin)),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-csrf-token', 'x-request-id', 'idempotency-key'],
    exposedHeaders: ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining'],
    maxAge: 600,
  });
}
