import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

export type MessageHandler = (message: string) => void;

/** Fan-out of messages to every server process (cache invalidation, live notifications). */
export interface PubSub {
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

/** Redis needs a connection of its own for subscriptions; it is opened on first subscribe. */
export class RedisPubSub implements PubSub {
  readonly #handlers = new Map<string, Set<MessageHandler>>();
  #subscriber: Redis | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async publish(channel: string, message: string) {
    await this.redis.publish(this.prefix + channel, message);
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

  #ensureSubscriber(): Redis {
    if (!this.#subscriber) {
      this.#subscriber = this.redis.duplicate();
      this.#subscriber.on('message', (channel: string, message: string) => {
        for (const handler of this.#handlers.get(channel) ?? []) handler(message);
      });
    }
    return this.#subscriber;
  }
}
