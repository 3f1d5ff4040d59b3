import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runServerProcess, startServerProcess } from './testing/spawn-server.js';

const folders: string[] = [];
async function dataDir() {
  const folder = await mkdtemp(path.join(tmpdir(), 'webox-data-'));
  folders.push(folder);
  return folder;
}
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

// Each test starts real server processes (PGlite initialisation, TypeScript loading): slow on a busy machine.
describe('the server process', { timeout: 180_000 }, () => {
  it('stops on a malformed setting with one line naming it, and a non-zero exit', async () => {
    const run = runServerProcess({ PORT: 'eighty', DATA_DIR: await dataDir() });
    expect(await run.exited).toBe(1);
    expect(run.output().trim().split('\n')).toEqual([expect.stringMatching(/^Invalid setting PORT: /)]);
  });

  it('prints a one-time setup link, shuts down gracefully with a request in flight, and keeps its data', async () => {
    const directory = await dataDir();
    const first = await startServerProcess({ DATA_DIR: directory, SHUTDOWN_TIMEOUT_MS: '5000' });
    const token = first.output().match(/\/setup\?token=([A-Za-z0-9_-]+)/)?.[1];
    expect(token).toBeDefined();
    expect((await fetch(`${first.url}/health`)).status).toBe(200);

    // A request whose body is still arriving when SIGTERM lands must still be answered.
    const body = JSON.stringify({
      token,
      name: 'Root',
      email: 'root@example.com',
      password: 'a long enough password',
    });
    const { port } = new URL(first.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    const half = Math.floor(body.length / 2);
    socket.write(
      `POST /api/setup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, half)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopping = first.stop('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.write(body.slice(half));
    await new Promise((resolve) => socket.once('close', resolve));
    expect(answer).toMatch(/^HTTP\/1\.1 201/);
    expect(await stopping).toBe(0);
    expect(first.output()).toContain('"msg":"stopped"');

    // Same data folder: the admin created before the restart is still there, so no new setup link.
    const second = await startServerProcess({ DATA_DIR: directory });
    try {
      expect(second.output()).not.toContain('/setup?token=');
      const replay = await fetch(`${second.url}/api/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(replay.status).toBe(409);
      expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('admin_exists');

      // The embedded database serves one process: a second one on the same folder is refused clearly.
      const intruder = runServerProcess({ DATA_DIR: directory });
      expect(await intruder.exited).toBe(1);
      expect(intruder.output().trim()).toMatch(/^Invalid setting DATA_DIR: .* is in use by process \d+/);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('creates the admin from ADMIN_EMAIL and ADMIN_PASSWORD without printing any link or the password', async () => {
    const password = `pw-${Math.random().toString(36).slice(2)}-long`;
    const server = await startServerProcess({
      DATA_DIR: await dataDir(),
      ADMIN_EMAIL: 'ops@example.com',
      ADMIN_PASSWORD: password,
    });
    try {
      expect(server.output()).toContain('administrator created from ADMIN_EMAIL');
      expect(server.output()).not.toContain('/setup?token=');
      expect(server.output()).not.toContain(password);
    } finally {
      await server.stop();
    }
  });
});
