import { and, count, desc, eq, gte, inArray, like, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import type { Database } from '../../db/client.js';
import { routeAccessOf } from '../../plugins/route-access.js';
import { auditEvents } from './tables.js';

/** Security events recorded by this module; other modules may record their own types (e.g. `api_key.created`). */
export const auditEventTypes = [
  'sign_up',
  'sign_in.succeeded',
  'sign_in.failed',
  'sign_in.locked',
  'sign_in.two_factor_failed',
  'sign_out',
  'session.revoked',
  'session.refresh_reused',
  'email.verified',
  'email.change_requested',
  'email.changed',
  'password.reset_requested',
  'password.reset',
  'password.changed',
  'two_factor.enabled',
  'two_factor.disabled',
  'two_factor.backup_code_used',
  'two_factor.backup_codes_regenerated',
  'two_factor.email_code_sent',
  'oauth.linked',
  'oauth.signed_up',
  'provider_key.saved',
  'provider_key.deleted',
  'profile.updated',
  'account.export',
  'account.deletion_scheduled',
  'account.deletion_cancelled',
  'account.deleted',
  'admin.role_changed',
  'admin.status_changed',
  'admin.policy_changed',
  'admin.outbox_read',
  'admin.action',
  'api_key.created',
  'api_key.revoked',
  'api_key.budget_changed',
  'payment.started',
  'payment.paid',
  'payment.canceled',
  'payment.proof_uploaded',
  'payment.transfer_confirmed',
  'payment.refunded',
  'payment.charged_back',
  'payment.pack_saved',
  'organization.owner_promoted',
] as const;
export type AuditEventType = (typeof auditEventTypes)[number];

export interface AuditEventInput {
  type: AuditEventType;
  /** The account the event concerns (null for a failed sign-in on an unknown address). */
  userId?: string | null;
  /** Who acted, when not the account itself (an admin). */
  actorId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Never a secret: ids, names and reasons only. */
  details?: Record<string, unknown>;
}

/** Where a request came from, for audit events and sessions. */
export function clientOf(request: FastifyRequest): { ip: string; userAgent: string | null } {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null };
}

/** Appends one security event. Every module records through this, never by writing the table. */
export async function recordAuditEvent(db: Database, event: AuditEventInput): Promise<void> {
  await db.insert(auditEvents).values({
    type: event.type,
    userId: event.userId ?? null,
    actorId: event.actorId ?? null,
    ip: event.ip ?? null,
    userAgent: event.userAgent?.slice(0, 512) ?? null,
    details: event.details ?? {},
  });
}

export interface ListAuditEventsOptions {
  /** Only events about this account, or done by it as an actor. */
  userId?: string;
  /** Exact types, or a prefix ending in `.` / `*` (e.g. `sign_in.`). */
  types?: string[];
  from?: Date;
  to?: Date;
  /** Events strictly older than this instant. */
  before?: Date;
  /**
   * Page cursor: events after this one in the list (older, or as old with a smaller id). Pass the last id of the
   * previous page; unlike a time, it never skips events that share an instant.
   */
  beforeId?: string;
  /** Default 50, at most 200. */
  limit?: number;
}

/** The journal's query string (`auditQuerySchema`) as list options. */
export function auditFilters(query: {
  types?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  before?: string | undefined;
  beforeId?: string | undefined;
  limit: number;
}): ListAuditEventsOptions {
  return {
    ...(query.types ? { types: query.types.split(',') } : {}),
    ...(query.from ? { from: new Date(query.from) } : {}),
    ...(query.to ? { to: new Date(query.to) } : {}),
    ...(query.before ? { before: new Date(query.before) } : {}),
    ...(query.beforeId ? { beforeId: query.beforeId } : {}),
    limit: query.limit,
  };
}

export interface AuditEventView {
  id: string;
  type: string;
  userId: string | null;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

export async function listAuditEvents(
  db: Database,
  options: ListAuditEventsOptions = {},
): Promise<AuditEventView[]> {
  const conditions: SQL[] = [];
  if (options.userId) {
    conditions.push(or(eq(auditEvents.userId, options.userId), eq(auditEvents.actorId, options.userId))!);
  }
  if (options.types?.length) {
    const exact = options.types.filter((type) => !/[.*]$/.test(type));
    const prefixes = options.types
      .filter((type) => /[.*]$/.test(type))
      .map((type) => `${type.replace(/\*$/, '').replace(/[\\%_]/g, '\\$&')}%`);
    const alternatives: SQL[] = [];
    if (exact.length) alternatives.push(inArray(auditEvents.type, exact));
    for (const prefix of prefixes) alternatives.push(like(auditEvents.type, prefix));
    conditions.push(or(...alternatives)!);
  }
  if (options.from) conditions.push(gte(auditEvents.createdAt, options.from));
  if (options.to) conditions.push(lte(auditEvents.createdAt, options.to));
  if (options.before) conditions.push(lt(auditEvents.createdAt, options.before));
  if (options.beforeId) {
    // Compared in the database at full (microsecond) precision: the API's times stop at milliseconds.
    conditions.push(
      sql`(${auditEvents.createdAt}, ${auditEvents.id}) < (select c.created_at, c.id from ${auditEvents} c where c.id = ${options.beforeId})`,
    );
  }
  const rows = await db
    .select()
    .from(auditEvents)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
    .limit(Math.min(Math.max(options.limit ?? 50, 1), 200));
  return rows.map((row) => ({
    id: row.id,
    type: row.type,
    userId: row.userId,
    actorId: row.actorId,
    ip: row.ip,
    userAgent: row.userAgent,
    details: row.details,
    createdAt: row.createdAt.toISOString(),
  }));
}

/** Counts per event type for one account since an instant (personal statistics). */
export async function countAuditEvents(
  db: Database,
  options: { userId: string; since: Date; types: readonly AuditEventType[] },
): Promise<Record<string, number>> {
  const rows = await db
    .select({ type: auditEvents.type, value: count() })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.userId, options.userId),
        gte(auditEvents.createdAt, options.since),
        inArray(auditEvents.type, [...options.types]),
      ),
    )
    .groupBy(auditEvents.type);
  const counts: Record<string, number> = Object.fromEntries(options.types.map((type) => [type, 0]));
  for (const row of rows) counts[row.type] = Number(row.value);
  return counts;
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Records `admin.action` for every change made through a staff-only route (roles without `user`) that succeeds:
 * who, from where, which route and ids. Modules still record their own, more telling events (a role change is also
 * `admin.role_changed`); this one guarantees that no admin action, in any module, goes unrecorded. Call on the root
 * instance before the routes are added.
 */
export function auditStaffChanges(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const access = routeAccessOf(route);
    if (access?.kind !== 'signed_in' || !access.roles || access.roles.includes('user')) return;
    if ([route.method].flat().every((method) => READS.has(method))) return;
    route.onResponse = [...[route.onResponse ?? []].flat(), recordStaffChange as onResponseHookHandler];
  });
}

async function recordStaffChange(request: FastifyRequest, reply: FastifyReply) {
  if (READS.has(request.method) || reply.statusCode >= 400 || !request.auth) return;
  try {
    await recordAuditEvent(request.server.db, {
      type: 'admin.action',
      actorId: request.auth.userId,
      ...clientOf(request),
      details: {
        method: request.method,
        route: request.routeOptions.url,
        params: request.params,
        status: reply.statusCode,
      },
    });
  } catch (error) {
    request.log.error({ err: error }, 'recording an admin action in the audit log failed');
  }
}
