import { hash, verify } from '@node-rs/argon2';
import { AppError } from '../../errors.js';
import type { AccountsContext } from './context.js';
import { budgetedCheck, passwordBudget } from './sign-in-throttle.js';
import { hashToken } from './tokens.js';

// argon2id (algorithm 2) with OWASP's second recommended profile: 19 MiB, 2 passes, 1 lane.
const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, options);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/**
 * Refuses with `invalid_credentials` unless `password` is the account's (accounts without one never pass): a signed-in
 * person proving themselves again. The check draws on the address's sign-in budget (`budgetedCheck`), so a stolen
 * session guesses no faster than the sign-in form and not at all while the address is locked (429 `account_locked`).
 */
export async function assertCurrentPassword(
  context: AccountsContext,
  user: { email: string; passwordHash: string | null },
  password: string,
  message = 'The password is not right.',
): Promise<void> {
  const { passwordHash } = user;
  const right =
    passwordHash &&
    (await budgetedCheck(passwordBudget(context), hashToken(user.email), async () =>
      (await verifyPassword(passwordHash, password)) ? true : undefined,
    ));
  if (!right) throw new AppError('invalid_credentials', message);
}
