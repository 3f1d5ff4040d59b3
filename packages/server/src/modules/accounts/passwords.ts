import { hash, verify } from '@node-rs/argon2';
import { AppError } from '../../errors.js';

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

/** Refuses with `invalid_credentials` unless `password` is the account's (accounts without one never pass). */
export async function assertCurrentPassword(
  user: { passwordHash: string | null },
  password: string,
  message = 'The password is not right.',
): Promise<void> {
  if (!user.passwordHash || !(await verifyPassword(user.passwordHash, password))) {
    throw new AppError('invalid_credentials', message);
  }
}
