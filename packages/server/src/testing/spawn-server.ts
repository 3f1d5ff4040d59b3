import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const serverEntry = fileURLToPath(new URL('../server.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface SpawnedServer {
  url: string;
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the real server entry point (from source, through tsx) as a separate process. */
export function runServerProcess(env: Record<string, string>): {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--conditions=@webox/source', '--import', 'tsx', serverEntry], {
    cwd: repositoryRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => text, exited };
}

/** Starts the server and waits until it logs the address it serves on. */
export async function startServerProcess(
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<SpawnedServer> {
  const { child, output, exited } = runServerProcess(env);
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  // With a fixed PORT the server is ready when /health answers, so it can run with LOG_LEVEL=warn (quiet pipes);
  // with PORT=0 the address comes from its startup log line.
  const fixedPort = env.PORT && env.PORT !== '0' ? `http://127.0.0.1:${env.PORT}` : undefined;
  while (!url) {
    const match = output().match(/"address":"(http:\/\/[^"]+)"/);
    if (fixedPort) {
      if (
        await fetch(`${fixedPort}/health`).then(
          (response) => response.ok,
          () => false,
        )
      )
        url = fixedPort;
    } else if (match) url = match[1]!.replace('0.0.0.0', '127.0.0.1');
    if (url) break;
    else if (child.exitCode !== null)
      throw new Error(`server exited (${child.exitCode}) before serving:\n${output()}`);
    else if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start in time:\n${output()}`);
    } else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    child,
    output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A TCP port that was free a moment ago, for a server process that must be told its port up front. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
