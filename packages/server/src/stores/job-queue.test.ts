import { describe, expect, it } from 'vitest';
import { BullJobQueue } from './job-queue.js';

const url = process.env.REDIS_URL;

/** Open TCP sockets of this thread's event loop: each one keeps a stopping process alive. */
function openSockets(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'TCPSocketWrap').length;
}

describe.skipIf(!url)('BullMQ job queue on Redis', () => {
  it('closes every Redis connection it opened, its workers’ included, so a stopping server can exit', async () => {
    const before = openSockets();
    const queue = new BullJobQueue(url!, `jobs-close-${process.pid}-${Date.now()}`);
    let ran = false;
    queue.register('probe', async () => {
      ran = true;
    });
    await queue.enqueue('probe', {});
    while (!ran) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(openSockets()).toBeGreaterThan(before);

    await queue.close();
    // A quit resolves when Redis answers it; the socket closes right after.
    for (let tries = 0; openSockets() > before && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(openSockets()).toBe(before);
  });
});
