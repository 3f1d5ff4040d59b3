import { z } from 'zod';
import { locales, themes, userRoles, userStatuses } from './tables.js';

/** Text fields reject control characters (other than none at all): names end up in emails and HTML. */
const plainText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'must not contain control characters');

export const emailSchema = z.email().max(254);
export const passwordSchema = z
  .string()
  .min(10, 'must be at least 10 characters')
  .max(256, 'must be at most 256 characters');
export const nameSchema = plainText(120);
export const tokenSchema = z.string().min(20).max(200);
export const codeSchema = z.string().trim().min(6).max(20);
export const tokenDeliverySchema = z
  .enum(['cookie', 'body'])
  .default('cookie')
  .describe(
    'cookie (the web app: httpOnly cookies) or body (API clients: Bearer and refresh tokens in the JSON)',
  );

export const accountSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  role: z.enum(userRoles),
  emailVerified: z.boolean(),
  status: z.enum(userStatuses),
  locale: z.enum(locales),
  theme: z.enum(themes),
  timeZone: z.string(),
  notificationPreferences: z.object({ product: z.boolean(), billing: z.boolean(), marketing: z.boolean() }),
  avatarUrl: z.string().nullable(),
  twoFactorEnabled: z.boolean(),
  hasPassword: z.boolean(),
  deletionScheduledFor: z.string().nullable(),
  createdAt: z.string(),
});

export const signedInSchema = z.object({
  status: z.literal('signed_in'),
  user: accountSchema,
  session: z.object({
    id: z.uuid(),
    accessTokenExpiresAt: z.string(),
    refreshTokenExpiresAt: z.string(),
    csrfToken: z.string().describe('Send it as x-csrf-token on cookie-authenticated changes.'),
  }),
  /** Only with tokenDelivery=body. */
  tokens: z
    .object({
      tokenType: z.literal('Bearer'),
      accessToken: z.string(),
      refreshToken: z.string(),
      expiresIn: z.number().int(),
    })
    .optional(),
});

export const twoFactorChallengeSchema = z.object({
  status: z.literal('two_factor_required'),
  challengeToken: z.string(),
});

export const messageSchema = z.object({ status: z.string(), message: z.string() });

export const sessionSchema = z.object({
  id: z.uuid(),
  method: z.string(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string(),
  expiresAt: z.string(),
  current: z.boolean(),
});

export const auditEventSchema = z.object({
  id: z.uuid(),
  type: z.string(),
  userId: z.uuid().nullable(),
  actorId: z.uuid().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
});

export const auditQuerySchema = z.object({
  types: z
    .string()
    .max(500)
    .regex(/^[a-z_.*]+(,[a-z_.*]+)*$/, 'comma-separated event types or prefixes such as sign_in.')
    .optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  before: z.iso.datetime({ offset: true }).optional(),
  beforeId: z.uuid().optional().describe('Next page: the id of the last event of the previous one.'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
