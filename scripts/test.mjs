#!/usr/bin/env node
// `npm test`: installs what is missing, checks lint, format and types, builds, runs every Vitest suite
// (unit, integration on PGlite + memory, and on PostgreSQL + Redis when DATABASE_URL / REDIS_URL are set,
// and the browser tests in Chromium), then prints one closing line: "N passed, N failed".
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureBuilt, ensureDebianPackages, ensureDependencies, root, run, step } from './lib.mjs';

const checks = [];
const record = (name, ok) => {
  checks.push({ name, ok });
  if (!ok) process.stdout.write(`✖ ${name} failed\n`);
  return ok;
};

if (!ensureDependencies()) {
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
}

const missing = ensureDebianPackages([
  { name: 'chromium', binary: '/usr/bin/chromium' },
  { name: 'ffmpeg', binary: '/usr/bin/ffmpeg' },
  { name: 'espeak-ng', binary: '/usr/bin/espeak-ng' },
  // PDF exports embed DejaVu Sans for Arabic and other scripts (without it their tests are skipped); Noto draws the
  // Arabic of the browser tests' screenshots, which would otherwise show empty boxes.
  { name: 'fonts-dejavu-core', binary: '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf' },
  { name: 'fonts-noto-core', binary: '/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf' },
]);
if (missing.length)
  process.stdout.write(`Missing Debian packages (tests that need them will fail): ${missing.join(', ')}\n`);

step('Lint and format (Biome)');
record('lint and format', run('npx', ['biome', 'ci', '.', '--colors=off']));
step('Type check');
record('type check (node packages)', run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']));
record('type check (web)', run('npx', ['tsc', '--noEmit', '-p', 'packages/web']));
record('build', ensureBuilt({ force: true }));

const backends = [
  process.env.DATABASE_URL ? 'PostgreSQL' : undefined,
  process.env.REDIS_URL ? 'Redis' : undefined,
].filter(Boolean);
step(`Vitest: PGlite + memory${backends.length ? `, and ${backends.join(' + ')}` : ''}`);
const resultsFile = path.join(root, '.vitest-results.json');
rmSync(resultsFile, { force: true });
const extra = process.argv.slice(2);
run('npx', [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${resultsFile}`,
  ...extra,
]);

let passed = checks.filter((check) => check.ok).length;
let failed = checks.length - passed;
if (existsSync(resultsFile)) {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
  passed += results.numPassedTests;
  failed += results.numFailedTests;
  // A suite that fails outside its tests (it does not load, or a beforeAll hook throws and its tests are skipped)
  // has no failed test of its own; count it so it cannot pass silently.
  failed += results.testResults.filter(
    (suite) => suite.status === 'failed' && !suite.assertionResults.some((test) => test.status === 'failed'),
  ).length;
  if (results.success === false && failed === 0) failed += 1;
} else {
  failed += 1;
  process.stdout.write('✖ Vitest produced no results\n');
}

process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
