// Helpers shared by `npm start` and `npm test`. Plain JavaScript: they run before anything is installed or built.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  return result.status === 0;
}

export function step(title) {
  process.stdout.write(`\n▶ ${title}\n`);
}

/** Installs the npm dependencies when node_modules is missing or older than the lock file. */
export function ensureDependencies() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return true;
  step('Installing npm dependencies');
  // `npm install`, not `npm ci`: npm 11 as set up on these machines refuses this workspace's lock file in `npm ci`
  // (it expects entries for other platforms' optional binaries), while `npm install` installs exactly what it records.
  return run('npm', ['install', '--no-audit', '--no-fund']);
}

/** Newest modification time below a folder (skipping build output and dependencies). */
export function newestMtime(folder) {
  let newest = 0;
  if (!existsSync(folder)) return newest;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(folder, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Compiles the node packages (incremental) and rebuilds the web app when its sources changed. */
export function ensureBuilt({ force = false } = {}) {
  step('Building the server packages');
  if (!run('npx', ['tsc', '-b', 'packages/gateway', 'packages/server', 'packages/sdk'])) return false;
  const webIndex = path.join(root, 'packages/web/dist/index.html');
  const webSources = Math.max(
    newestMtime(path.join(root, 'packages/web/src')),
    statSync(path.join(root, 'packages/web/index.html')).mtimeMs,
  );
  if (!force && existsSync(webIndex) && statSync(webIndex).mtimeMs >= webSources) return true;
  step('Building the web app');
  return run('npm', ['run', 'build', '-w', '@webox/web']);
}

/** Installs Debian packages the tests or the product need (root with apt-get only); returns the ones still missing. */
export function ensureDebianPackages(packages) {
  const missing = packages.filter(({ binary }) => !existsSync(binary));
  if (missing.length === 0) return [];
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (canInstall) {
    const names = missing.map(({ name }) => name);
    step(`Installing Debian packages: ${names.join(', ')}`);
    const environment = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-qq'], { env: environment });
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], { env: environment });
  }
  return packages.filter(({ binary }) => !existsSync(binary)).map(({ name }) => name);
}
