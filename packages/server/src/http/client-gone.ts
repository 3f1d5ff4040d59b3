import type { FastifyReply } from 'fastify';

/**
 * Calls `listener` once if the client goes away before its answer was written whole (the connection closed with the
 * response unfinished): the work done for it (an upstream call, an export's render) can stop.
 */
export function onClientGone(reply: FastifyReply, listener: () => void): void {
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) listener();
  });
}
