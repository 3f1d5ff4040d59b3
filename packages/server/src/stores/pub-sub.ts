import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

export type MessageHandler = (message: string) => void;

/** Fan-out of messages to every server process (cache invalidation, live notifications). */
export interface PubSub {
  /**
   * This process's subscribers have the message once the returned promise settles (even if it rejects),
   * so a request that follows an invalidation in the same process never sees the stale entry; other
   * processes hear it a moment later.
   */
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; returns the function that ends it. */
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export class MemoryPubSub implements PubSub {
  readonly #events = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, message: string) {
    this.#events.emit(channel, message);
  }

  async subscribe(channel: string, handler: MessageHandler) {
    this.#events.on(channel, handler);
    return async () => {
      this.#events.off(channel, handler);
    };
  }

  async close() {
    this.#events.removeAllListeners();
  }
}

/**
 * Redis needs a connection of its own for subscriptions; it is opened on first subscribe. Redis delivers a
 * message back to its publisher asynchronously, after `PUBLISH` has answered, so this process hands its own
 * messages to its handlers directly and skips their echo, which it recognises by a tag naming the publisher.
 */
export class RedisPubSub implements PubSub {
  readonly #handlers = new Map<string, Set<MessageHandler>>();
  readonly #origin = randomUUID();
  #subscriber: Redis | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async publish(channel: string, message: string) {
    const fullChannel = this.prefix + channel;
    this.#deliver(fullChannel, message);
    await this.redis.publish(fullChannel, `${this.#origin} ${message}`);
  }

  async subscribe(channel: string, handler: MessageHandler) {
    const fullChannel = this.prefix + channel;
    const subscriber = this.#ensureSubscriber();
    let handlers = this.#handlers.get(fullChannel);
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(fullChannel, handlers);
      await subscriber.subscribe(fullChannel);
    }
    handlers.add(handler);
    return async () => {
      handlers.delete(handler);
      if (handlers.size === 0 && this.#handlers.get(fullChannel) === handlers) {
        this.#handlers.delete(fullChannel);
        await subscriber.unsubscribe(fullChannel);
      }
    };
  }

  async close() {
    this.#handlers.clear();
    await this.#subscriber?.quit().catch(() => {});
    this.#subscriber = undefined;
  }

  #deliver(fullChannel: string, message: string) {
    for (const handler of this.#handlers.get(fullChannel) ?? []) handler(message);
  }

  #ensureSubscriber(): Redis {
    if (!this.#subscriber) {
      this.#subscriber = this.redis.duplicate();
      this.#subscriber.on('message', (fullChannel: string, tagged: string) => {
        const space = tagged.indexOf(' ');
        // Untagged: from a process of an earlier version, during a rolling deploy (no message held a space then).
        if (space === -1) this.#deliver(fullChannel, tagged);
        else if (tagged.slice(0, space) !== this.#origin) this.#deliver(fullChannel, tagged.slice(space + 1));
      });
    }
    return this.#subscriber;
  }
}
