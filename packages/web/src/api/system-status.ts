import { ApiError, fetchJson } from './client';

export interface ReadinessCheck {
  ok: boolean;
}

/** What `GET /ready` answers, with 200 when ready and 503 when not. */
export interface Readiness {
  status: 'ready' | 'not_ready';
  checks: Partial<Record<string, ReadinessCheck>>;
}

export type SystemStatus =
  | { state: 'operational'; failingChecks: [] }
  | { state: 'degraded'; failingChecks: string[] }
  | { state: 'unavailable'; failingChecks: [] };

/**
 * Combines liveness and readiness into one answer for people: the process can be alive (`/health`)
 * while a dependency such as the database is down (`/ready`), which is "degraded", not "down".
 */
export async function fetchSystemStatus(signal?: AbortSignal): Promise<SystemStatus> {
  const options = signal ? { signal } : {};
  const [health, readiness] = await Promise.allSettled([
    fetchJson<{ status?: string }>('/health', options),
    fetchJson<Readiness>('/ready', options),
  ]);
  if (health.status === 'rejected' || !health.value.ok || health.value.body?.status !== 'ok') {
    return { state: 'unavailable', failingChecks: [] };
  }
  if (readiness.status === 'rejected') {
    // A broken /ready on a live server says nothing about which dependency is failing.
    if (readiness.reason instanceof ApiError) return { state: 'degraded', failingChecks: [] };
    throw readiness.reason;
  }
  const body = readiness.value.body;
  if (readiness.value.ok && body?.status === 'ready') return { state: 'operational', failingChecks: [] };
  const failingChecks = Object.entries(body?.checks ?? {})
    .filter(([, check]) => check?.ok === false)
    .map(([name]) => name);
  return { state: 'degraded', failingChecks };
}
