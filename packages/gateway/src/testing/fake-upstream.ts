import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local upstream on 127.0.0.1 that replays recorded fixtures and injects faults, so adapters and
 * resilience are tested over real HTTP without the internet.
 */

export interface CapturedRequest {
  method: string;
  /** Path with query string. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  /** The parsed JSON body (undefined when it is not JSON). */
  body: unknown;
}

export type FakeResponse =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string>; delayMs?: number }
  | {
      kind: 'sse';
      /** One SSE `data:` payload each; `delayMs` waits before that event instead of `eventDelayMs`. */
      events: Array<{ event?: string; data: string; delayMs?: number }>;
      status?: number;
      headers?: Record<string, string>;
      /** Delay before the headers. */
      delayMs?: number;
      /** Delay between events. */
      eventDelayMs?: number;
      /** Destroy the socket after this many events (connection reset during the stream). */
      resetAfterEvents?: number;
      contentType?: string;
    }
  | {
      kind: 'raw';
      status: number;
      body: string;
      contentType?: string;
      headers?: Record<string, string>;
      /**
       * Sends the headers (the whole body's length announced) and this many bytes of the body, then destroys the
       * socket: a connection cut mid-body after the status was sent.
       */
      resetAfterBytes?: number;
      /** Like `resetAfterBytes`, but the connection stays open and silent (a body that stops coming). */
      hangAfterBytes?: number;
    }
  /** Destroys the connection before any response byte. */
  | { kind: 'reset' }
  /** Accepts the request and never answers (an attempt timeout). */
  | { kind: 'hang' };

export type FakeHandler = (request: CapturedRequest) => FakeResponse;

export interface FakeUpstream {
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: CapturedRequest[];
  /** Responses served in order, one per request; after they run out, the handler (or a 500) answers. */
  enqueue(...responses: FakeResponse[]): void;
  setHandler(handler: FakeHandler): void;
  close(): Promise<void>;
}

/** Reads a `.chunks.txt` fixture: one SSE data payload per non-empty line. */
export function readChunksFixture(path: string | URL): Array<{ data: string }> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => ({ data: line }));
}

/** Like readChunksFixture, with each event named after its JSON `type` (Anthropic's named events). */
export function readNamedChunksFixture(path: string | URL): Array<{ event?: string; data: string }> {
  return readChunksFixture(path).map((entry) => {
    try {
      const type = (JSON.parse(entry.data) as { type?: unknown }).type;
      return typeof type === 'string' ? { event: type, data: entry.data } : entry;
    } catch {
      return entry;
    }
  });
}

export function readJsonFixture(path: string | URL): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of request) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

async function respond(response: ServerResponse, socket: Socket, fake: FakeResponse): Promise<void> {
  switch (fake.kind) {
    case 'reset':
      socket.destroy();
      return;
    case 'hang':
      return;
    case 'json': {
      if (fake.delayMs) await wait(fake.delayMs);
      response.writeHead(fake.status ?? 200, { 'content-type': 'application/json', ...fake.headers });
      response.end(JSON.stringify(fake.body));
      return;
    }
    case 'raw': {
      const body = Buffer.from(fake.body);
      const sentBytes = fake.resetAfterBytes ?? fake.hangAfterBytes;
      response.writeHead(fake.status, {
        'content-type': fake.contentType ?? 'text/plain',
        'content-length': String(body.length),
        ...fake.headers,
      });
      if (sentBytes === undefined) {
        response.end(body);
        return;
      }
      response.write(body.subarray(0, sentBytes));
      if (fake.resetAfterBytes === undefined) return;
      // Let the status and the first bytes reach the client before the cut, as a real mid-body failure would.
      await wait(20);
      socket.destroy();
      return;
    }
    case 'sse': {
      if (fake.delayMs) await wait(fake.delayMs);
      response.writeHead(fake.status ?? 200, {
        'content-type': fake.contentType ?? 'text/event-stream',
        'cache-control': 'no-cache',
        ...fake.headers,
      });
      response.flushHeaders();
      let sent = 0;
      for (const event of fake.events) {
        if (fake.resetAfterEvents !== undefined && sent >= fake.resetAfterEvents) {
          // Let the written events reach the client before the reset, as a real mid-stream failure would.
          await wait(20);
          socket.destroy();
          return;
        }
        const delayMs = event.delayMs ?? fake.eventDelayMs;
        if (delayMs) await wait(delayMs);
        if (socket.destroyed) return;
        response.write(`${event.event ? `event: ${event.event}\n` : ''}data: ${event.data}\n\n`);
        sent += 1;
      }
      if (fake.resetAfterEvents !== undefined && sent >= fake.resetAfterEvents) {
        await wait(20);
        socket.destroy();
        return;
      }
      response.end();
      return;
    }
  }
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const queue: FakeResponse[] = [];
  const requests: CapturedRequest[] = [];
  let handler: FakeHandler | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    void (async () => {
      const rawBody = await readBody(request);
      let body: unknown;
      try {
        body = rawBody ? JSON.parse(rawBody) : undefined;
      } catch {
        body = undefined;
      }
      const captured: CapturedRequest = {
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: request.headers,
        rawBody,
        body,
      };
      requests.push(captured);
      const fake = queue.shift() ??
        handler?.(captured) ?? {
          kind: 'json',
          status: 500,
          body: { error: { message: 'no response queued' } },
        };
      await respond(response, request.socket, fake);
    })().catch(() => request.socket.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...responses) => {
      queue.push(...responses);
    },
    setHandler: (next) => {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
