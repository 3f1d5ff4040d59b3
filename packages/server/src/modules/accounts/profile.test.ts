import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { generateMasterKey, loadMasterKeyring, MasterKeyring, useMasterKeyring } from './master-keys.js';
import { eraseDueAccounts } from './privacy.js';
import { getProviderKeyForUser, rotateMasterKeys } from './provider-keys.js';
import { providerKeys, users } from './tables.js';
import { randomIp, signInWithPassword, signUpAndSignIn } from './testing.js';

for (const pair of backendPairs()) {
  describe(`profile, provider keys and privacy on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair, { ACCOUNT_DELETION_GRACE_DAYS: '7' });
    });
    afterAll(async () => {
      await harness.close();
    });
    const app = () => harness.app;

    it('updates name and preferences, refusing unknown languages, time zones and fields', async () => {
      const client = await signUpAndSignIn(app());
      const updated = await app().inject({
        method: 'PATCH',
        url: '/api/account/profile',
        headers: client.headers,
        payload: {
          name: 'Yacine',
          locale: 'ar',
          theme: 'dark',
          timeZone: 'Africa/Algiers',
          notificationPreferences: { marketing: true },
        },
      });
      expect(updated.statusCode).toBe(200);
      expect(updated.json().user).toMatchObject({
        name: 'Yacine',
        locale: 'ar',
        theme: 'dark',
        timeZone: 'Africa/Algiers',
        notificationPreferences: { product: true, billing: true, marketing: true },
      });
      for (const payload of [
        { locale: 'de' },
        { timeZone: 'Mars/Olympus' },
        { role: 'admin' },
        { name: 'a\u0000b' },
      ]) {
        const response = await app().inject({
          method: 'PATCH',
          url: '/api/account/profile',
          headers: client.headers,
          payload,
        });
        expect(response.statusCode).toBe(400);
      }
      expect((await app().inject({ url: '/api/account', headers: client.headers })).json().user.role).toBe(
        'user',
      );
    });

    it('stores SQL and script payloads as plain data in every text field', async () => {
      const payloads = [
        "Robert'); DROP TABLE users;--",
        '<script>alert(document.cookie)</script>',
        "' OR '1'='1",
      ];
      const client = await signUpAndSignIn(app(), { name: payloads[0] });
      for (const name of payloads) {
        const response = await app().inject({
          method: 'PATCH',
          url: '/api/account/profile',
          headers: client.headers,
          payload: { name },
        });
        expect(response.statusCode).toBe(200);
        expect(response.json().user.name).toBe(name);
        expect(response.headers['content-type']).toContain('application/json');
      }
      const label = await app().inject({
        method: 'PUT',
        url: '/api/account/provider-keys/openai',
        headers: client.headers,
        payload: { key: 'sk-test-1234567890', label: payloads[1] },
      });
      expect(label.json().key.label).toBe(payloads[1]);
      const injectedEmail = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: { email: "' OR 1=1 --", password: "' OR '1'='1" },
      });
      expect(injectedEmail.statusCode).toBe(400);
      const injectedFilter = await app().inject({
        url: "/api/account/activity?types=sign_in.'%20OR%201=1",
        headers: client.headers,
      });
      expect(injectedFilter.statusCode).toBe(400);
      // The users table is still there and still holds everyone.
      const everyone = await harness.database.db.select({ id: users.id }).from(users);
      expect(everyone.length).toBeGreaterThan(1);
    });

    it('refuses oversize and malformed bodies without falling over', async () => {
      const client = await signUpAndSignIn(app());
      const malformed = await app().inject({
        method: 'PATCH',
        url: '/api/account/profile',
        headers: { ...client.headers, 'content-type': 'application/json' },
        payload: '{"name": ',
      });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.code).toBe('invalid_json');
      const tooLong = await app().inject({
        method: 'PATCH',
        url: '/api/account/profile',
        headers: client.headers,
        payload: { name: 'x'.repeat(10_000) },
      });
      expect(tooLong.statusCode).toBe(400);
      const huge = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(5 * 1024 * 1024) }),
      });
      expect(huge.statusCode).toBe(413);
      const arrayBody = await app().inject({
        method: 'POST',
        url: '/api/auth/sign-in',
        remoteAddress: randomIp(),
        payload: [1, 2],
      });
      expect(arrayBody.statusCode).toBe(400);
    });

    it('re-encodes avatars without metadata and refuses uploads that lie about their type', async () => {
      const client = await signUpAndSignIn(app());
      const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#c33' } })
        .jpeg()
        .withExif({ IFD0: { Copyright: 'Secret place 36.75N 3.05E', Artist: 'Someone' } })
        .toBuffer();
      expect((await sharp(photo).metadata()).exif).toBeDefined();
      const uploaded = await app().inject({
        method: 'PUT',
        url: '/api/account/avatar',
        headers: { ...client.headers, 'content-type': 'image/jpeg' },
        payload: photo,
      });
      expect(uploaded.statusCode).toBe(200);
      const avatarUrl: string = uploaded.json().user.avatarUrl;
      const image = await app().inject({ url: avatarUrl });
      expect(image.headers['content-type']).toBe('image/webp');
      const metadata = await sharp(image.rawPayload).metadata();
      expect(metadata).toMatchObject({ format: 'webp', width: 256, height: 256 });
      expect(metadata.exif).toBeUndefined();
      expect(image.rawPayload.includes(Buffer.from('Secret place'))).toBe(false);

      const png = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } })
        .png()
        .toBuffer();
      const lies = [
        { type: 'image/jpeg', body: png },
        { type: 'image/png', body: Buffer.from('<?php system($_GET["c"]); ?>') },
        { type: 'image/gif', body: randomBytes(2048) },
      ];
      for (const lie of lies) {
        const response = await app().inject({
          method: 'PUT',
          url: '/api/account/avatar',
          headers: { ...client.headers, 'content-type': lie.type },
          payload: lie.body,
        });
        expect(response.statusCode).toBe(415);
      }
      const svg = await app().inject({
        method: 'PUT',
        url: '/api/account/avatar',
        headers: { ...client.headers, 'content-type': 'image/svg+xml' },
        payload: '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
      });
      expect(svg.statusCode).toBe(415);
      const oversize = await app().inject({
        method: 'PUT',
        url: '/api/account/avatar',
        headers: { ...client.headers, 'content-type': 'image/png' },
        payload: Buffer.alloc(6 * 1024 * 1024),
      });
      expect(oversize.statusCode).toBe(413);
      expect((await app().inject({ url: '/api/account/avatar/..%2F..%2Fetc%2Fpasswd' })).statusCode).toBe(
        404,
      );
    });

    it('keeps provider keys encrypted, shows them masked, hands them to the gateway, and isolates accounts', async () => {
      const alice = await signUpAndSignIn(app());
      const bob = await signUpAndSignIn(app());
      const secret = `sk-live-${randomBytes(16).toString('hex')}`;
      const saved = await app().inject({
        method: 'PUT',
        url: '/api/account/provider-keys/openai',
        headers: alice.headers,
        payload: { key: secret, label: 'Personal' },
      });
      expect(saved.statusCode).toBe(200);
      expect(saved.json().key.masked).toBe(`••••${secret.slice(-4)}`);
      expect(saved.body).not.toContain(secret);
      const list = await app().inject({ url: '/api/account/provider-keys', headers: alice.headers });
      expect(list.body).not.toContain(secret);
      const [row] = await harness.database.db
        .select()
        .from(providerKeys)
        .where(eq(providerKeys.userId, alice.userId));
      expect(row!.sealed).not.toContain(secret);
      expect(await getProviderKeyForUser(harness.database.db, alice.userId, 'openai')).toBe(secret);
      expect(await getProviderKeyForUser(harness.database.db, bob.userId, 'openai')).toBeUndefined();

      // Bob guesses Alice's key id: not found, and Alice's key is untouched.
      const keyId = saved.json().key.id;
      for (const request of [
        { method: 'DELETE' as const, url: `/api/account/provider-keys/${keyId}` },
        {
          method: 'PATCH' as const,
          url: `/api/account/provider-keys/${keyId}`,
          payload: { useForGateway: false },
        },
      ]) {
        expect((await app().inject({ ...request, headers: bob.headers })).statusCode).toBe(404);
      }
      expect(
        (await app().inject({ url: '/api/account/provider-keys', headers: bob.headers })).json().keys,
      ).toEqual([]);
      expect(await getProviderKeyForUser(harness.database.db, alice.userId, 'openai')).toBe(secret);

      const off = await app().inject({
        method: 'PATCH',
        url: `/api/account/provider-keys/${keyId}`,
        headers: alice.headers,
        payload: { useForGateway: false },
      });
      expect(off.json().key.useForGateway).toBe(false);
      expect(await getProviderKeyForUser(harness.database.db, alice.userId, 'openai')).toBeUndefined();
    });

    it('rotates the master key: every sealed value moves to the new version and still opens', async () => {
      const client = await signUpAndSignIn(app());
      const secret = `sk-ant-${randomBytes(12).toString('hex')}`;
      await app().inject({
        method: 'PUT',
        url: '/api/account/provider-keys/anthropic',
        headers: client.headers,
        payload: { key: secret },
      });
      const db = harness.database.db;
      const before = await loadMasterKeyring(db, undefined);
      const result = await rotateMasterKeys(db, {});
      expect(result.version).toBe(Math.max(...before.versions) + 1);
      const after = await loadMasterKeyring(db, undefined);
      expect(after.versions).toEqual([result.version]);
      useMasterKeyring(db, after);
      const rows = await db.select().from(providerKeys);
      expect(rows.every((row) => row.keyVersion === result.version)).toBe(true);
      expect(await getProviderKeyForUser(db, client.userId, 'anthropic')).toBe(secret);

      // With MASTER_KEYS the operator puts the new key first and keeps the old one until the rotation has run.
      const fromEnv = `${generateMasterKey(result.version + 1)},${after.serialise()}`;
      const envResult = await rotateMasterKeys(db, { masterKeys: fromEnv });
      useMasterKeyring(db, MasterKeyring.parse(fromEnv));
      expect(envResult.version).toBe(result.version + 1);
      expect(await getProviderKeyForUser(db, client.userId, 'anthropic')).toBe(secret);
      // A tampered ciphertext is refused rather than decrypted to garbage.
      const [row] = await db.select().from(providerKeys).where(eq(providerKeys.userId, client.userId));
      const parts = row!.sealed.split('.');
      parts[2] = Buffer.from('tampered!').toString('base64url');
      expect(() =>
        MasterKeyring.parse(fromEnv).open(parts.join('.'), `provider-key:${client.userId}:anthropic`),
      ).toThrow();
    });

    it('exports my data without secrets, and erases the account after the grace period', async () => {
      const client = await signUpAndSignIn(app());
      await app().inject({
        method: 'PUT',
        url: '/api/account/provider-keys/mistral',
        headers: client.headers,
        payload: { key: 'mistral-secret-key-abcdef' },
      });
      const exported = await app().inject({ url: '/api/account/export', headers: client.headers });
      expect(exported.statusCode).toBe(200);
      expect(exported.headers['content-disposition']).toContain('attachment');
      const data = exported.json();
      expect(data.account.email).toBe(client.email);
      expect(data.providerKeys[0].masked).toBe('••••cdef');
      expect(data.securityEvents.length).toBeGreaterThan(0);
      expect(exported.body).not.toMatch(/argon2|mistral-secret-key|password_hash|passwordHash/);

      const refused = await app().inject({
        method: 'POST',
        url: '/api/account/deletion',
        headers: client.headers,
        payload: { password: 'not my password' },
      });
      expect(refused.statusCode).toBe(401);
      const scheduled = await app().inject({
        method: 'POST',
        url: '/api/account/deletion',
        headers: client.headers,
        payload: { password: client.password },
      });
      expect(scheduled.statusCode).toBe(202);
      const when = new Date(scheduled.json().deletionScheduledFor);
      expect(when.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);

      const erase = { dataDir: app().env.DATA_DIR, pubSub: harness.stores.pubSub };
      expect(await eraseDueAccounts(harness.database.db, erase)).toBe(0);
      expect(
        await eraseDueAccounts(harness.database.db, { ...erase, now: new Date(when.getTime() + 1000) }),
      ).toBe(1);
      const [row] = await harness.database.db.select().from(users).where(eq(users.id, client.userId));
      expect(row).toMatchObject({ status: 'deleted', name: '', passwordHash: null });
      expect(row!.email).not.toContain(client.email);
      expect(
        await harness.database.db.select().from(providerKeys).where(eq(providerKeys.userId, client.userId)),
      ).toEqual([]);
      expect((await app().inject({ url: '/api/account', headers: client.headers })).statusCode).toBe(401);
      await expect(
        signInWithPassword(app(), { email: client.email, password: client.password }),
      ).rejects.toThrow(/401/);
    });

    it('deletes, at the next sweep, the avatar file an erasure stopped before removing', async () => {
      const avatarFiles = async () =>
        readdir(`${app().env.DATA_DIR}/files/avatars`).catch(() => [] as string[]);
      const photo = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3c3' } })
        .png()
        .toBuffer();
      const withAvatar = async () => {
        const client = await signUpAndSignIn(app());
        const uploaded = await app().inject({
          method: 'PUT',
          url: '/api/account/avatar',
          headers: { ...client.headers, 'content-type': 'image/png' },
          payload: photo,
        });
        expect(uploaded.statusCode).toBe(200);
        const [row] = await harness.database.db
          .select({ avatarKey: users.avatarKey })
          .from(users)
          .where(eq(users.id, client.userId));
        return { client, file: `${row!.avatarKey}.webp`, url: uploaded.json().user.avatarUrl as string };
      };
      const erased = await withAvatar();
      const kept = await withAvatar();
      expect(await avatarFiles()).toEqual(expect.arrayContaining([erased.file, kept.file]));

      // What a stop right after the erasure's commit leaves: the account erased, no row naming its file, the file.
      await harness.database.db
        .update(users)
        .set({
          status: 'deleted',
          email: `deleted-${erased.client.userId}@deleted.invalid`,
          name: '',
          passwordHash: null,
          avatarKey: null,
        })
        .where(eq(users.id, erased.client.userId));
      expect(await avatarFiles()).toContain(erased.file);

      const erase = { dataDir: app().env.DATA_DIR, pubSub: harness.stores.pubSub };
      expect(await eraseDueAccounts(harness.database.db, erase)).toBe(0);

      const left = await avatarFiles();
      expect(left).not.toContain(erased.file);
      expect(left).toContain(kept.file);
      expect((await app().inject({ url: erased.url })).statusCode).toBe(404);
      expect((await app().inject({ url: kept.url })).statusCode).toBe(200);
    });

    it('cancels a scheduled deletion when the person signs in again', async () => {
      const client = await signUpAndSignIn(app());
      await app().inject({
        method: 'POST',
        url: '/api/account/deletion',
        headers: client.headers,
        payload: { password: client.password },
      });
      const again = await signInWithPassword(app(), { email: client.email, password: client.password });
      const me = await app().inject({ url: '/api/account', headers: again.headers });
      expect(me.json().user.deletionScheduledFor).toBeNull();
    });
  });
}
