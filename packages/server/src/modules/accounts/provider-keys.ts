import { and, eq, ne } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { recordAuditEvent } from './audit.js';
import type { RequestOrigin } from './context.js';
import { generateMasterKey, MASTER_KEYS_SECRET, MasterKeyring, masterKeyringOf } from './master-keys.js';
import { getOrCreateServerSecret, setServerSecret } from './server-secrets.js';
import { providerKeys, users } from './tables.js';

/**
 * Channel on which a change to a user's provider keys (saved, switched on or off for the gateway, deleted) is
 * announced with the user's id, so every process drops the decrypted keys it cached for them.
 */
export const PROVIDER_KEYS_CHANNEL = 'provider-keys:changed';

function keyContext(userId: string, providerId: string): string {
  return `provider-key:${userId}:${providerId}`;
}

export interface ProviderKeyView {
  id: string;
  providerId: string;
  label: string;
  /** The key with all but its last four characters hidden. */
  masked: string;
  useForGateway: boolean;
  createdAt: string;
}

function toView(row: typeof providerKeys.$inferSelect): ProviderKeyView {
  return {
    id: row.id,
    providerId: row.providerId,
    label: row.label,
    masked: `••••${row.lastFour}`,
    useForGateway: row.useForGateway,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Stores (or replaces) the caller's key for one provider, sealed under the current master key. */
export async function saveProviderKey(
  db: Database,
  options: {
    userId: string;
    providerId: string;
    key: string;
    label?: string;
    useForGateway?: boolean;
  } & RequestOrigin,
): Promise<ProviderKeyView> {
  const keyring = masterKeyringOf(db);
  const sealed = keyring.seal(options.key, keyContext(options.userId, options.providerId));
  const values = {
    sealed,
    keyVersion: keyring.current.version,
    lastFour: options.key.slice(-4),
    label: options.label ?? '',
    useForGateway: options.useForGateway ?? true,
  };
  const [row] = await db
    .insert(providerKeys)
    .values({ userId: options.userId, providerId: options.providerId, ...values })
    .onConflictDoUpdate({ target: [providerKeys.userId, providerKeys.providerId], set: values })
    .returning();
  await recordAuditEvent(db, {
    type: 'provider_key.saved',
    userId: options.userId,
    ip: options.ip,
    userAgent: options.userAgent,
    details: { providerId: options.providerId, keyId: row!.id },
  });
  return toView(row!);
}

export async function listProviderKeys(db: Database, userId: string): Promise<ProviderKeyView[]> {
  const rows = await db.select().from(providerKeys).where(eq(providerKeys.userId, userId));
  return rows.map(toView);
}

export async function setProviderKeyUse(
  db: Database,
  options: { userId: string; keyId: string; useForGateway: boolean },
): Promise<ProviderKeyView> {
  const [row] = await db
    .update(providerKeys)
    .set({ useForGateway: options.useForGateway })
    .where(and(eq(providerKeys.id, options.keyId), eq(providerKeys.userId, options.userId)))
    .returning();
  if (!row) throw new AppError('not_found', 'No such provider key.');
  return toView(row);
}

/** Deletes one of the caller's keys; another account's key id is not found. */
export async function deleteProviderKey(
  db: Database,
  options: { userId: string; keyId: string } & RequestOrigin,
): Promise<void> {
  const [row] = await db
    .delete(providerKeys)
    .where(and(eq(providerKeys.id, options.keyId), eq(providerKeys.userId, options.userId)))
    .returning();
  if (!row) throw new AppError('not_found', 'No such provider key.');
  await recordAuditEvent(db, {
    type: 'provider_key.deleted',
    userId: options.userId,
    ip: options.ip,
    userAgent: options.userAgent,
    details: { providerId: row.providerId, keyId: row.id },
  });
}

/**
 * The owner's own key for a provider, decrypted, when they chose to use it for their gateway calls; undefined
 * otherwise. For the gateway's KeyStore. `db` must be the app's root handle (not a transaction).
 */
export async function getProviderKeyForUser(
  db: Database,
  userId: string,
  providerId: string,
): Promise<string | undefined> {
  const [row] = await db
    .select()
    .from(providerKeys)
    .where(
      and(
        eq(providerKeys.userId, userId),
        eq(providerKeys.providerId, providerId),
        eq(providerKeys.useForGateway, true),
      ),
    )
    .limit(1);
  if (!row) return undefined;
  return masterKeyringOf(db).open(row.sealed, keyContext(userId, providerId));
}

/**
 * Re-seals every provider key and TOTP secret under the current master key. With MASTER_KEYS the operator puts the
 * new key first (keeping the old ones until this has run); without it, a new generated version is added to the
 * stored keys and the old ones are dropped once nothing uses them. Running servers must restart afterwards.
 */
export async function rotateMasterKeys(
  db: Database,
  options: { masterKeys?: string | undefined },
): Promise<{ version: number; resealed: number }> {
  let keyring: MasterKeyring;
  if (options.masterKeys) {
    keyring = MasterKeyring.parse(options.masterKeys);
  } else {
    const stored = MasterKeyring.parse(
      await getOrCreateServerSecret(db, MASTER_KEYS_SECRET, () => generateMasterKey(1)),
    );
    const next = Math.max(...stored.versions) + 1;
    keyring = MasterKeyring.parse(`${generateMasterKey(next)},${stored.serialise()}`);
    await setServerSecret(db, MASTER_KEYS_SECRET, keyring.serialise());
  }
  const version = keyring.current.version;
  let resealed = 0;
  const stale = await db.select().from(providerKeys).where(ne(providerKeys.keyVersion, version));
  for (const row of stale) {
    const context = keyContext(row.userId, row.providerId);
    const sealed = keyring.seal(keyring.open(row.sealed, context), context);
    await db
      .update(providerKeys)
      .set({ sealed, keyVersion: version })
      .where(and(eq(providerKeys.id, row.id), eq(providerKeys.sealed, row.sealed)));
    resealed += 1;
  }
  const secrets = await db.select({ id: users.id, totpSecret: users.totpSecret }).from(users);
  for (const row of secrets) {
    if (!row.totpSecret || MasterKeyring.versionOf(row.totpSecret) === version) continue;
    const context = `totp:${row.id}`;
    await db
      .update(users)
      .set({ totpSecret: keyring.seal(keyring.open(row.totpSecret, context), context) })
      .where(and(eq(users.id, row.id), eq(users.totpSecret, row.totpSecret)));
    resealed += 1;
  }
  if (!options.masterKeys) {
    await setServerSecret(db, MASTER_KEYS_SECRET, serialiseCurrentOnly(keyring));
  }
  return { version, resealed };
}

function serialiseCurrentOnly(keyring: MasterKeyring): string {
  return `v${keyring.current.version}:${keyring.current.key.toString('base64')}`;
}
