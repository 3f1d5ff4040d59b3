import type { FastifyInstance } from 'fastify';
import type { Env } from '../../config/env.js';
import type { Database } from '../../db/client.js';
import type { Stores } from '../../stores/index.js';
import type { Mailer } from '../notifications/service.js';
import type { MasterKeyring } from './master-keys.js';
import type { TokenKeys } from './tokens.js';

/** What account services need from the app, passed explicitly so they can be called outside a request. */
export interface AccountsContext {
  db: Database;
  env: Env;
  stores: Stores;
  keys: TokenKeys;
  keyring: MasterKeyring;
  mailer: Mailer;
  /** Milliseconds since the epoch, for TOTP codes and sign-in waits (`app.now`: `Date.now` except in tests). */
  now: () => number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Versioned master keys sealing provider keys and TOTP secrets. */
    masterKeys: MasterKeyring;
    /** Outgoing email: the outbox, and SMTP delivery when configured. */
    mailer: Mailer;
  }
}

export function accountsContext(app: FastifyInstance): AccountsContext {
  return {
    db: app.db,
    env: app.env,
    stores: app.stores,
    keys: app.tokenKeys,
    keyring: app.masterKeys,
    mailer: app.mailer,
    now: app.now,
  };
}

/** Who is asking and from where, for audit events and sessions. */
export interface RequestOrigin {
  ip?: string | null;
  userAgent?: string | null;
}
