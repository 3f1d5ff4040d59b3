import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type EmailTokenPurpose, emailTokens } from './tables.js';
import { hashToken, randomToken } from './tokens.js';

/**
 * Issues a single-use secret sent by email (a link's token, or a code typed back) and keeps only its hash. One live
 * secret per account and purpose: asking again invalidates the previous one. `token` is what will be presented back
 * (default: a new random link token); a code typed by a person is passed in already bound to its account.
 */
export async function issueEmailToken(
  db: Database,
  options: { userId: string; purpose: EmailTokenPurpose; email: string; ttlMs: number; token?: string },
): Promise<string> {
  const token = options.token ?? randomToken();
  await db.transaction(async (transaction) => {
    await transaction
      .update(emailTokens)
      .set({ usedAt: new Date() })
      .where(
        and(
          eq(emailTokens.userId, options.userId),
          eq(emailTokens.purpose, options.purpose),
          isNull(emailTokens.usedAt),
        ),
      );
    await transaction.insert(emailTokens).values({
      tokenHash: hashToken(token),
      userId: options.userId,
      purpose: options.purpose,
      email: options.email,
      expiresAt: new Date(Date.now() + options.ttlMs),
    });
  });
  return token;
}

function live(token: string, purpose: EmailTokenPurpose) {
  return and(
    eq(emailTokens.tokenHash, hashToken(token)),
    eq(emailTokens.purpose, purpose),
    isNull(emailTokens.usedAt),
    gt(emailTokens.expiresAt, new Date()),
  );
}

/** The row of a token that would be accepted now, without spending it; undefined when unknown, used or expired. */
export async function findLiveEmailToken(db: Database, token: string, purpose: EmailTokenPurpose) {
  const [row] = await db.select().from(emailTokens).where(live(token, purpose)).limit(1);
  return row;
}

/**
 * Spends a token once; undefined when unknown, used, expired or for another purpose. The conditional update is the
 * arbiter between concurrent uses of one token: only one of them gets the row.
 */
export async function consumeEmailToken(db: Database, token: string, purpose: EmailTokenPurpose) {
  const [row] = await db
    .update(emailTokens)
    .set({ usedAt: new Date() })
    .where(live(token, purpose))
    .returning();
  return row;
}
