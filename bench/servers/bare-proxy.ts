/**
 * The ceiling for any Node gateway on this machine: reads the JSON body, forwards it with undici, pipes the answer
 * back. No auth, no parsing of the answer, nothing else.
 *
 * Flags: --port N (0 = any; prints `listening <port>`), --upstream http://127.0.0.1:PORT
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, upstream: { type: 'string' } },
});
if (!values.upstream) throw new Error('--upstream is required');
const upstream = values.upstream;
const dispatcher = new Agent({ connections: 512, keepAliveTimeout: 60_000, pipelining: 1 });

const server = createServer((request, response) => {
  const parts: Buffer[] = [];
  request.on('data', (part: Buffer) => parts.push(part));
  request.on('end', () => {
    const body = Buffer.concat(parts);
    dispatcher
      .request({
        origin: upstream,
        path: request.url ?? '/',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
        body,
      })
      .then((answer) => {
        const contentType = answer.headers['content-type'];
        response.writeHead(
          answer.statusCode,
          typeof contentType === 'string' ? { 'content-type': contentType } : {},
        );
        pipeline(answer.body, response, () => {});
      })
      .catch(() => {
        if (!response.headersSent) response.writeHead(502);
        response.end();
      });
  });
});

server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
