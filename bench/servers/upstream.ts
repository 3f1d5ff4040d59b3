/**
 * The fake OpenAI-compatible upstream every benchmark target talks to: a plain node:http server, deliberately
 * minimal, in a process of its own so it never shares an event loop with what is measured.
 *
 *   POST …/chat/completions  {"stream":false}  → one fixed JSON completion (with usage)
 *   POST …/chat/completions  {"stream":true}   → 20 content chunks, a finish chunk, a usage chunk, [DONE]
 *
 * Flags: --port N (0 = any; the bound port is printed as `listening <port>`), --delay-ms N (before the headers),
 * --token-delay-ms N (between stream events, e.g. 50 for the streaming-scale test).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { completionJson, streamEvents } from '../lib/payloads.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'delay-ms': { type: 'string', default: '0' },
    'token-delay-ms': { type: 'string', default: '0' },
  },
});
const delayMs = Number(values['delay-ms']);
const tokenDelayMs = Number(values['token-delay-ms']);

const completion = Buffer.from(completionJson);
const wholeStream = Buffer.from(streamEvents.join(''));

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const server = createServer((request, response) => {
  const parts: Buffer[] = [];
  request.on('data', (part: Buffer) => parts.push(part));
  request.on('end', () => {
    const stream = Buffer.concat(parts).includes('"stream":true');
    void answer(stream, response).catch(() => response.destroy());
  });
});

async function answer(stream: boolean, response: import('node:http').ServerResponse) {
  if (delayMs > 0) await wait(delayMs);
  if (!stream) {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': completion.length });
    response.end(completion);
    return;
  }
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (tokenDelayMs <= 0) {
    response.end(wholeStream);
    return;
  }
  response.flushHeaders();
  for (const [index, event] of streamEvents.entries()) {
    if (index > 0) await wait(tokenDelayMs);
    if (response.destroyed) return;
    response.write(event);
  }
  response.end();
}

server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
