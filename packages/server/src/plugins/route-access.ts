import type { FastifyInstance, RouteOptions } from 'fastify';
import type { UserRole } from '../modules/accounts/tables.js';

/** Who may call a route: anyone (and why), or signed-in callers, perhaps only some roles. */
export type RouteAccess =
  | { kind: 'public'; reason: string }
  | {
      kind: 'signed_in';
      /** Absent: any role. */
      roles?: readonly UserRole[];
      virtualKeys: boolean;
      allowMissingTwoFactor: boolean;
    };

export interface RegisteredRoute {
  method: string;
  url: string;
  /** Undefined when the route declares nothing: a test fails on those. */
  access: RouteAccess | undefined;
  /** The route's schema as registered (zod schemas for params, querystring and body). */
  schema: RouteOptions['schema'];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Declares a route open to anyone, signed in or not; the value says why (shown when auditing routes). */
    public?: string;
  }
  interface FastifyInstance {
    /** Every route registered after `recordRouteAccess`, with what it declares about its callers. */
    routeAccess: RegisteredRoute[];
  }
}

const ACCESS = Symbol.for('webox.routeAccess');

/**
 * Marks a hook as the guard that decides who may call its route. `authenticate()` marks its handlers; a module
 * that wraps `authenticate()` in its own guard marks the wrapper the same way.
 */
export function declareAccess<T extends object>(guard: T, access: RouteAccess): T {
  Object.defineProperty(guard, ACCESS, { value: access, enumerable: false });
  return guard;
}

function guardAccess(hooks: unknown): RouteAccess | undefined {
  for (const hook of [hooks].flat()) {
    if (typeof hook === 'function' && ACCESS in hook) return (hook as { [ACCESS]: RouteAccess })[ACCESS];
  }
  return undefined;
}

/** What a route declares: `config.public`, or a guard among its onRequest and preHandler hooks. */
export function routeAccessOf(route: Pick<RouteOptions, 'config' | 'onRequest' | 'preHandler'>) {
  const reason = (route.config as { public?: unknown } | undefined)?.public;
  if (typeof reason === 'string' && reason.trim() !== '') return { kind: 'public', reason } as const;
  return guardAccess(route.onRequest) ?? guardAccess(route.preHandler);
}

/**
 * Keeps the list of routes and their declared access on `app.routeAccess`, so a test can walk every route and
 * fail on one that says nothing about its callers. Call on the root instance before any route is added.
 */
export function recordRouteAccess(app: FastifyInstance): void {
  if (app.hasDecorator('routeAccess')) return;
  const routes: RegisteredRoute[] = [];
  app.decorate('routeAccess', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url, access: routeAccessOf(route), schema: route.schema });
    }
  });
}
