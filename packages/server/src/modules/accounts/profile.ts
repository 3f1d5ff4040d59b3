import { randomBytes } from 'node:crypto';
import { mkdir, opendir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { and, eq, inArray } from 'drizzle-orm';
import sharp from 'sharp';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { recordAuditEvent } from './audit.js';
import type { RequestOrigin } from './context.js';
import { type AccountView, findAccountRow, toAccountView } from './service.js';
import { type Locale, type NotificationPreferences, type Theme, users } from './tables.js';

export interface ProfileChanges {
  name?: string | undefined;
  locale?: Locale | undefined;
  theme?: Theme | undefined;
  timeZone?: string | undefined;
  notificationPreferences?: Partial<NotificationPreferences> | undefined;
}

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export async function updateProfile(
  db: Database,
  options: { userId: string; changes: ProfileChanges } & RequestOrigin,
): Promise<AccountView> {
  const current = await findAccountRow(db, options.userId);
  const { changes } = options;
  const [row] = await db
    .update(users)
    .set({
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.locale ? { locale: changes.locale } : {}),
      ...(changes.theme ? { theme: changes.theme } : {}),
      ...(changes.timeZone ? { timeZone: changes.timeZone } : {}),
      ...(changes.notificationPreferences
        ? {
            notificationPreferences: {
              ...current.notificationPreferences,
              ...changes.notificationPreferences,
            },
          }
        : {}),
      updatedAt: new Date(),
    })
    .where(eq(users.id, options.userId))
    .returning();
  await recordAuditEvent(db, {
    type: 'profile.updated',
    userId: options.userId,
    ip: options.ip,
    userAgent: options.userAgent,
    details: { fields: Object.keys(changes) },
  });
  return toAccountView(row!);
}

/** Largest avatar upload accepted, in bytes. */
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
const AVATAR_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif']);
const DECLARED_FORMAT: Record<string, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

function avatarFolder(dataDir: string) {
  return path.resolve(dataDir, 'files', 'avatars');
}

/**
 * Checks what the bytes really are (not what the upload claims), re-encodes them as a 256×256 WebP and drops every
 * piece of metadata (EXIF location, camera, comments) on the way.
 */
export async function setAvatar(
  db: Database,
  options: { userId: string; dataDir: string; contentType: string; data: Buffer },
): Promise<AccountView> {
  const declared = DECLARED_FORMAT[options.contentType.split(';')[0]!.trim().toLowerCase()];
  if (!declared) throw new AppError('unsupported_media_type', 'Upload a JPEG, PNG, WebP or GIF image.');
  let metadata: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    metadata = await sharp(options.data, { limitInputPixels: 40_000_000 }).metadata();
  } catch {
    throw new AppError('unsupported_media_type', 'This file is not an image we can read.');
  }
  if (!metadata.format || !AVATAR_FORMATS.has(metadata.format) || metadata.format !== declared) {
    throw new AppError('unsupported_media_type', 'The file content does not match its declared image type.');
  }
  const image = await sharp(options.data, { limitInputPixels: 40_000_000, animated: false })
    .rotate()
    .resize(256, 256, { fit: 'cover' })
    .webp({ quality: 85 })
    .toBuffer();
  const key = `${options.userId}-${randomBytes(8).toString('hex')}`;
  const folder = avatarFolder(options.dataDir);
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, `${key}.webp`), image);
  const [previous] = await db
    .select({ avatarKey: users.avatarKey })
    .from(users)
    .where(eq(users.id, options.userId));
  const [row] = await db
    .update(users)
    .set({ avatarKey: key, updatedAt: new Date() })
    .where(eq(users.id, options.userId))
    .returning();
  if (previous?.avatarKey) await removeAvatarFile(options.dataDir, previous.avatarKey);
  return toAccountView(row!);
}

export async function removeAvatar(db: Database, options: { userId: string; dataDir: string }) {
  const [previous] = await db
    .select({ avatarKey: users.avatarKey })
    .from(users)
    .where(eq(users.id, options.userId));
  await db.update(users).set({ avatarKey: null }).where(eq(users.id, options.userId));
  if (previous?.avatarKey) await removeAvatarFile(options.dataDir, previous.avatarKey);
}

/** Deletes a stored avatar image (its row no longer names it). */
export async function removeAvatarFile(dataDir: string, avatarKey: string) {
  await rm(path.join(avatarFolder(dataDir), `${avatarKey}.webp`), { force: true });
}

/** `<user id>-<16 hex>.webp`, as `setAvatar` names them. */
const AVATAR_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-[0-9a-f]{16}\.webp$/;

/**
 * Deletes every avatar file that belongs to an erased account. Erasure removes the file after its commit (a file
 * cannot be part of the transaction), so a process that stopped in between left it on disk with no row naming it
 * any more; the erasure sweep calls this to find such files by their names. Reads the folder as a stream and asks
 * the database about 500 names at a time. Returns how many files it removed.
 */
export async function removeErasedAvatarFiles(db: Database, dataDir: string): Promise<number> {
  const folder = avatarFolder(dataDir);
  let directory: Awaited<ReturnType<typeof opendir>>;
  try {
    directory = await opendir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  let page: Array<{ name: string; userId: string }> = [];
  const removeErased = async () => {
    const userIds = [...new Set(page.map((file) => file.userId))];
    const erased = await db
      .select({ id: users.id })
      .from(users)
      .where(and(inArray(users.id, userIds), eq(users.status, 'deleted')));
    const erasedIds = new Set(erased.map((row) => row.id));
    for (const file of page) {
      if (!erasedIds.has(file.userId)) continue;
      await rm(path.join(folder, file.name), { force: true });
      removed++;
    }
    page = [];
  };
  for await (const entry of directory) {
    const userId = entry.isFile() ? AVATAR_FILE.exec(entry.name)?.[1] : undefined;
    if (!userId) continue;
    page.push({ name: entry.name, userId });
    if (page.length >= 500) await removeErased();
  }
  if (page.length > 0) await removeErased();
  return removed;
}

export async function readAvatar(dataDir: string, key: string): Promise<Buffer | undefined> {
  if (!/^[0-9a-f-]{36}-[0-9a-f]{16}$/.test(key)) return undefined;
  try {
    return await readFile(path.join(avatarFolder(dataDir), `${key}.webp`));
  } catch {
    return undefined;
  }
}
