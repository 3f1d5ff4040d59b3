import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { repositoryRoot, type Started, startProcess } from './processes.js';

export const PORTKEY_VERSION = '1.15.2';
const folder = path.join(repositoryRoot, 'bench/.portkey');
const entry = path.join(folder, 'node_modules/@portkey-ai/gateway/build/start-server.js');

/**
 * Installs Portkey's gateway into bench/.portkey on first use (never into the workspace, so `npm ci` stays lean)
 * and starts it headless on a free port.
 */
export async function ensurePortkey(): Promise<Started> {
  if (!existsSync(entry)) {
    process.stdout.write(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into bench/.portkey\n`);
    mkdirSync(folder, { recursive: true });
    execFileSync(
      'npm',
      ['install', '--prefix', folder, '--no-audit', '--no-fund', `@portkey-ai/gateway@${PORTKEY_VERSION}`],
      { stdio: 'inherit', timeout: 300_000 },
    );
  }
  const port = await freePort();
  return startProcess({
    name: 'portkey',
    command: process.execPath,
    args: [entry, `--port=${port}`, '--headless'],
    cwd: folder,
    port,
    readyPattern: /Ready for connections/,
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
