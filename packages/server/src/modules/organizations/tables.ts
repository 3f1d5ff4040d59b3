import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from '../accounts/tables.js';

export const organizationRoles = ['owner', 'member'] as const;
export type OrganizationRole = (typeof organizationRoles)[number];

/** An organisation: a shared wallet (billing wallet with owner_type 'organization') and its members. */
export const organizations = pgTable(
  'organizations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Shown as text everywhere, never as markup. */
    name: text('name').notNull(),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [check('organizations_name_check', sql`length(${table.name}) between 1 and 100`)],
);

/**
 * Who belongs to an organisation and how. Owners manage it; members spend from its wallet within their own
 * limits (credits per local day and month, null = no limit of its own). The service keeps at least one owner.
 */
export const organizationMembers = pgTable(
  'organization_members',
  {
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: organizationRoles }).notNull(),
    monthlyCreditLimit: bigint('monthly_credit_limit', { mode: 'number' }),
    dailyCreditLimit: bigint('daily_credit_limit', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.organizationId, table.userId] }),
    index('organization_members_user_idx').on(table.userId),
    check('organization_members_role_check', sql`${table.role} in ('owner', 'member')`),
    check(
      'organization_members_limits_check',
      sql`coalesce(${table.monthlyCreditLimit}, 0) >= 0 and coalesce(${table.dailyCreditLimit}, 0) >= 0`,
    ),
  ],
);

/**
 * An invitation sent by email. Only a SHA-256 of the token is stored; it works once, for 7 days, and only for a
 * signed-in account whose verified address is `email`.
 */
export const organizationInvitations = pgTable(
  'organization_invitations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    /** Lower-cased and trimmed, like `users.email`. */
    email: text('email').notNull(),
    role: text('role', { enum: organizationRoles }).notNull(),
    tokenHash: text('token_hash').notNull(),
    invitedBy: uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    acceptedBy: uuid('accepted_by').references(() => users.id, { onDelete: 'set null' }),
    /** Set when an owner withdraws it or sends a new one to the same address. */
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('organization_invitations_token_idx').on(table.tokenHash),
    index('organization_invitations_organization_idx').on(table.organizationId, table.createdAt),
    check('organization_invitations_role_check', sql`${table.role} in ('owner', 'member')`),
  ],
);
