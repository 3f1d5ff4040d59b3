import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Database } from '../../db/client.js';
import { getOrCreateServerSecret } from './server-secrets.js';

/** The server secret holding generated master keys when MASTER_KEYS is not set. */
export const MASTER_KEYS_SECRET = 'master_keys';

/**
 * Versioned AES-256-GCM keys. New data is sealed with the first (current) key; older versions stay readable until a
 * rotation has re-sealed everything under the current one.
 */
export class MasterKeyring {
  readonly current: { version: number; key: Buffer };
  readonly #byVersion: Map<number, Buffer>;

  constructor(keys: Array<{ version: number; key: Buffer }>) {
    if (keys.length === 0) throw new RangeError('at least one master key is needed');
    for (const entry of keys) {
      if (entry.key.length !== 32) throw new RangeError(`master key v${entry.version} must be 32 bytes`);
    }
    this.current = keys[0]!;
    this.#byVersion = new Map(keys.map((entry) => [entry.version, entry.key]));
    if (this.#byVersion.size !== keys.length) throw new RangeError('master key versions must be unique');
  }

  /** Parses `v2:<base64>,v1:<base64>` (newest first). */
  static parse(value: string): MasterKeyring {
    return new MasterKeyring(
      value.split(',').map((part) => {
        const match = /^v(\d+):(.+)$/.exec(part.trim());
        if (!match) throw new RangeError('master keys look like v<N>:<base64 of 32 bytes>');
        return { version: Number(match[1]), key: Buffer.from(match[2]!, 'base64') };
      }),
    );
  }

  get versions(): number[] {
    return [...this.#byVersion.keys()];
  }

  /** `v<N>.<iv>.<ciphertext>.<tag>` (base64url); `context` binds the ciphertext to its owner (additional data). */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      `v${this.current.version}`,
      iv.toString('base64url'),
      ciphertext.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** The plaintext; throws when the key version is unknown or the data or its context were tampered with. */
  open(sealed: string, context: string): string {
    const [versionPart, ivPart, ciphertextPart, tagPart] = sealed.split('.');
    const version = Number(versionPart?.slice(1));
    const key = this.#byVersion.get(version);
    if (!key || !ivPart || ciphertextPart === undefined || !tagPart) {
      throw new Error(`sealed value uses unknown master key version ${versionPart ?? '?'}`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivPart, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tagPart, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(ciphertextPart, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  }

  /** The version a sealed value was made with. */
  static versionOf(sealed: string): number {
    return Number(sealed.split('.')[0]?.slice(1));
  }

  serialise(): string {
    return [...this.#byVersion.entries()]
      .map(([version, key]) => `v${version}:${key.toString('base64')}`)
      .join(',');
  }
}

export function generateMasterKey(version: number): string {
  return `v${version}:${randomBytes(32).toString('base64')}`;
}

/** MASTER_KEYS when set; otherwise keys generated once and kept in the database (shared by every process). */
export async function loadMasterKeyring(
  db: Database,
  masterKeys: string | undefined,
): Promise<MasterKeyring> {
  if (masterKeys) return MasterKeyring.parse(masterKeys);
  return MasterKeyring.parse(
    await getOrCreateServerSecret(db, MASTER_KEYS_SECRET, () => generateMasterKey(1)),
  );
}

const keyrings = new WeakMap<Database, MasterKeyring>();

/** Binds the keyring to a database handle, so services called with only `db` (the gateway's) can unseal. */
export function useMasterKeyring(db: Database, keyring: MasterKeyring): void {
  keyrings.set(db, keyring);
}

export function masterKeyringOf(db: Database): MasterKeyring {
  const keyring = keyrings.get(db);
  if (!keyring) throw new Error('no master keyring is bound to this database; the app binds it at start');
  return keyring;
}
