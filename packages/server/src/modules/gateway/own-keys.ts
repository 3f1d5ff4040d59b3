import { LRUCache } from 'lru-cache';
import type { Database } from '../../db/client.js';
import type { PubSub } from '../../stores/index.js';
import { getProviderKeyForUser, listProviderKeys, PROVIDER_KEYS_CHANNEL } from '../accounts/provider-keys.js';

/** A user's own provider keys by provider id, decrypted; only those they chose to use for the gateway. */
export type OwnKeys = Readonly<Record<string, string>>;

const none: OwnKeys = Object.freeze({});

export interface OwnProviderKeysOptions {
  /** Provider ids the gateway knows; keys for other providers are never loaded. */
  providers: readonly string[];
  /** How long a user's keys stay cached (default 30 s); a change announced by accounts evicts them at once. */
  ttlMs?: number;
  maxEntries?: number;
  /** Told when a stored key cannot be opened (the key itself is never passed). */
  onUnreadable?: (userId: string, providerId: string, error: unknown) => void;
}

/**
 * The keys /v1 calls a user's providers with when they brought their own (accounts stores them sealed). Cached per
 * user in the process so a call costs no database round trip; accounts announces every change on a pub/sub
 * channel, which reaches every process (Redis when configured) and evicts the user's entry.
 */
export class OwnProviderKeys {
  readonly #cache: LRUCache<string, Promise<OwnKeys>>;
  readonly #providers: ReadonlySet<string>;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Database,
    private readonly pubSub: PubSub,
    private readonly options: OwnProviderKeysOptions,
  ) {
    this.#providers = new Set(options.providers);
    this.#cache = new LRUCache({ max: options.maxEntries ?? 50_000, ttl: options.ttlMs ?? 30_000 });
  }

  async start() {
    this.#unsubscribe = await this.pubSub.subscribe(PROVIDER_KEYS_CHANNEL, (userId) =>
      this.#cache.delete(userId),
    );
  }

  async stop() {
    await this.#unsubscribe?.();
  }

  /** The user's keys for the gateway's providers; empty when they brought none (or switched them all off). */
  keysFor(userId: string): Promise<OwnKeys> {
    let keys = this.#cache.get(userId);
    if (!keys) {
      keys = this.#load(userId);
      this.#cache.set(userId, keys);
      // A failed lookup is not remembered: the next call tries again.
      keys.catch(() => {
        if (this.#cache.get(userId) === keys) this.#cache.delete(userId);
      });
    }
    return keys;
  }

  async #load(userId: string): Promise<OwnKeys> {
    const saved = (await listProviderKeys(this.db, userId)).filter(
      (key) => key.useForGateway && this.#providers.has(key.providerId),
    );
    if (saved.length === 0) return none;
    const keys: Record<string, string> = {};
    await Promise.all(
      saved.map(async ({ providerId }) => {
        try {
          const key = await getProviderKeyForUser(this.db, userId, providerId);
          if (key) keys[providerId] = key;
        } catch (error) {
          // A key sealed under a master key this process no longer has: the platform's key serves instead.
          this.options.onUnreadable?.(userId, providerId, error);
        }
      }),
    );
    return Object.freeze(keys);
  }
}
