#!/usr/bin/env node
// `npm start`: installs what is missing, builds what changed, then runs the server (which migrates the database).
import { spawn } from 'node:child_process';
import { ensureBuilt, ensureDependencies, root } from './lib.mjs';

if (!ensureDependencies() || !ensureBuilt()) process.exit(1);

const server = spawn(process.execPath, ['packages/server/dist/server.js'], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
