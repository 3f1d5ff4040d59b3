import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const userRoles = ['user', 'support', 'admin'] as const;
export type UserRole = (typeof userRoles)[number];

export const userStatuses = ['active', 'disabled', 'deleted'] as const;
export type UserStatus = (typeof userStatuses)[number];

export const locales = ['fr', 'en', 'ar'] as const;
export type Locale = (typeof locales)[number];

export const themes = ['system', 'light', 'dark'] as const;
export type Theme = (typeof themes)[number];

/** Which kinds of email a person agreed to receive; security email is always sent. */
export interface NotificationPreferences {
  product: boolean;
  billing: boolean;
  marketing: boolean;
}

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Stored lower-cased and trimmed, so uniqueness is case-insensitive. */
    email: text('email').notNull().unique(),
    name: text('name').notNull().default(''),
    /** argon2id PHC string; null for accounts that only sign in through OAuth. */
    passwordHash: text('password_hash'),
    role: text('role', { enum: userRoles }).notNull().default('user'),
    emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true }),
    status: text('status', { enum: userStatuses }).notNull().default('active'),
    locale: text('locale', { enum: locales }).notNull().default('en'),
    theme: text('theme', { enum: themes }).notNull().default('system'),
    timeZone: text('time_zone').notNull().default('UTC'),
    notificationPreferences: jsonb('notification_preferences')
      .$type<NotificationPreferences>()
      .notNull()
      .default({ product: true, billing: true, marketing: false }),
    /** Storage key of the re-encoded avatar, if any. */
    avatarKey: text('avatar_key'),
    /** TOTP secret sealed with the master key (see crypto.ts); set while enrolling and once enabled. */
    totpSecret: text('totp_secret'),
    totpEnabledAt: timestamp('totp_enabled_at', { withTimezone: true }),
    /** Last TOTP time step accepted, so one code cannot be replayed inside its window. */
    totpLastStep: integer('totp_last_step'),
    passwordChangedAt: timestamp('password_changed_at', { withTimezone: true }),
    /**
     * Raised by every change that must end what a previous proof of identity opened: the password, 2FA enrolment, the
     * status, any revocation of every session. A 2FA sign-in challenge carries the value it was issued under and is
     * refused once it moved (see `completeTwoFactorSignIn`).
     */
    securityVersion: integer('security_version').notNull().default(0),
    /** When set, the account is erased at this instant unless the person cancels. */
    deletionScheduledFor: timestamp('deletion_scheduled_for', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    check('users_role_check', sql`${table.role} in ('user', 'support', 'admin')`),
    index('users_role_idx').on(table.role),
  ],
);

/** One-time links that let the first admin be created from the browser. Only a hash of the token is kept. */
export const setupTokens = pgTable('setup_tokens', {
  id: uuid('id').primaryKey().defaultRandom(),
  tokenHash: text('token_hash').notNull().unique(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  usedAt: timestamp('used_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * One signed-in device. Its refresh tokens form one family: rotating spends the presented token, and presenting a
 * spent one again (a stolen copy) revokes the whole session.
 */
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** How the person proved who they are: password, password+totp, oauth:google... */
    method: text('method').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokedReason: text('revoked_reason'),
  },
  (table) => [index('sessions_user_idx').on(table.userId)],
);

/** Every refresh token ever issued, by hash. `usedAt` set means rotated away: seeing it again is theft. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (table) => [index('refresh_tokens_session_idx').on(table.sessionId)],
);

export const emailTokenPurposes = [
  'verify_email',
  'reset_password',
  'change_email',
  // Codes that let an account without a password confirm a 2FA change (see `sendTwoFactorEmailCode`).
  'two_factor_enable',
  'two_factor_disable',
] as const;
export type EmailTokenPurpose = (typeof emailTokenPurposes)[number];

/** Single-use links and codes sent by email. Only a hash of the token is kept. */
export const emailTokens = pgTable(
  'email_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: emailTokenPurposes }).notNull(),
    /** The address the link was sent to (the new one for an email change). */
    email: text('email').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('email_tokens_user_idx').on(table.userId, table.purpose)],
);

/** Ten single-use codes per enrolment, hashed like passwords are (SHA-256 suffices: they are 50+ random bits). */
export const backupCodes = pgTable(
  'backup_codes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (table) => [index('backup_codes_user_idx').on(table.userId)],
);

/**
 * Security events (who, what, from where). Kept when an account is erased (the row of an erased account stays, so
 * its id does too), its personal data taken out: see `forgetAuditTrail`.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** The account the event is about. */
    userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
    /** Who did it when it is not the account itself (an admin). */
    actorId: uuid('actor_id').references(() => users.id, { onDelete: 'set null' }),
    type: text('type').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('audit_events_user_idx').on(table.userId, table.createdAt),
    index('audit_events_type_idx').on(table.type, table.createdAt),
    // An account's own journal and erasure find the events it did as an actor (an admin's) by this.
    index('audit_events_actor_idx')
      .on(table.actorId, table.createdAt)
      .where(sql`${table.actorId} is not null`),
  ],
);

/**
 * Erasures whose trail is still being pseudonymised (`forgetAuditTrail`, in batches once the erasure has committed):
 * `addresses` and `name` are the text taken out of the events and payment notes that mention the person. The row, the
 * last copy of them, is deleted when that is done; the erasure sweep finishes a row a stopped process left.
 */
export const accountErasures = pgTable('account_erasures', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  addresses: jsonb('addresses').$type<string[]>().notNull().default([]),
  name: text('name').notNull().default(''),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Accounts at an OAuth provider linked to a WeBox account. */
export const oauthAccounts = pgTable(
  'oauth_accounts',
  {
    provider: text('provider').notNull(),
    providerUserId: text('provider_user_id').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    email: text('email'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.providerUserId] }),
    index('oauth_accounts_user_idx').on(table.userId),
  ],
);

/** A person's own key at an AI provider, sealed with AES-256-GCM under a versioned master key. */
export const providerKeys = pgTable(
  'provider_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    providerId: text('provider_id').notNull(),
    label: text('label').notNull().default(''),
    /** `v<N>.<iv>.<ciphertext>.<tag>` in base64url; the version names the master key. */
    sealed: text('sealed').notNull(),
    keyVersion: integer('key_version').notNull(),
    /** The last four characters, to show the key masked. */
    lastFour: text('last_four').notNull(),
    /** When true the gateway uses this key for the owner's calls to this provider instead of the platform's. */
    useForGateway: boolean('use_for_gateway').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('provider_keys_user_provider_idx').on(table.userId, table.providerId)],
);

/** Secrets the server generates for itself when the environment gives none (signing key, default master key). */
export const serverSecrets = pgTable('server_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Security settings admins change at runtime (the 2FA policy), one row per setting. */
export const securitySettings = pgTable('security_settings', {
  name: text('name').primaryKey(),
  value: jsonb('value').notNull(),
  updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
