import type { GatewayConfig, ModelCapability, ModelPrice, RetryConfig, RouteVariant } from '../config.js';
import type { ProviderType } from '../spec/provider-adapter.js';
import { matchesConditions, type RequestMetadata } from './route-conditions.js';
import { orderFallback, orderWeighted } from './strategies.js';

/** One candidate for serving a request, with what billing needs to hold the worst case. */
export interface ResolvedTarget {
  /** The configured model id (public, e.g. `gpt-4o-mini`). */
  model: string;
  provider: string;
  providerType: ProviderType;
  /** The id the provider knows. */
  upstreamModel: string;
  contextWindow: number;
  maxOutputTokens?: number;
  capabilities: ModelCapability[];
  price?: ModelPrice;
  /** Request parameters forced by the route for this target. */
  overrides: Record<string, unknown>;
}

export interface ResolvedRoute {
  /** The alias or model id the client asked for. */
  requested: string;
  targets: ResolvedTarget[];
  retry?: RetryConfig;
  fallbackOnContextLength: boolean;
}

export interface RouterOptions {
  config: GatewayConfig;
  random: () => number;
  /** Whether a provider can be called (configured, or the caller brought a key). */
  isProviderUsable: (provider: string) => boolean;
}

/** The overrides of a target that has none: one shared object, so "none" is an identity check. */
export const noOverrides: Readonly<Record<string, unknown>> = Object.freeze({});

export class Router {
  readonly #options: RouterOptions;
  /** Targets without overrides, by model id: the config never changes, and every call resolves its model. */
  readonly #plainTargets = new Map<string, ResolvedTarget>();

  constructor(options: RouterOptions) {
    this.#options = options;
  }

  /**
   * The ordered targets for an alias or model id, or undefined when nothing is configured under that
   * name. Targets on unusable providers are left out; an empty list means none is usable right now.
   */
  resolve(
    requested: string,
    metadata: RequestMetadata,
    isProviderUsable: (provider: string) => boolean = this.#options.isProviderUsable,
  ): ResolvedRoute | undefined {
    const { config } = this.#options;
    // Own entries only: a client naming "constructor" or "__proto__" must not reach what every object inherits.
    const route = Object.hasOwn(config.routes, requested) ? config.routes[requested] : undefined;
    if (route) {
      const variants: RouteVariant[] = Array.isArray(route) ? route : [route];
      const variant = variants.find((candidate) => matchesConditions(candidate.when, metadata));
      if (!variant) return { requested, targets: [], fallbackOnContextLength: false };
      const ordered =
        variant.strategy === 'weighted'
          ? orderWeighted(variant.targets, this.#options.random)
          : orderFallback(variant.targets);
      const targets = ordered
        .map((target) => this.#target(target.model, target.overrides))
        .filter((target): target is ResolvedTarget => target !== undefined)
        .filter((target) => isProviderUsable(target.provider));
      return {
        requested,
        targets,
        ...(variant.retry ? { retry: variant.retry } : {}),
        fallbackOnContextLength: variant.fallbackOnContextLength,
      };
    }
    const target = this.#target(requested);
    if (!target) return undefined;
    return {
      requested,
      targets: isProviderUsable(target.provider) ? [target] : [],
      fallbackOnContextLength: false,
    };
  }

  /** The target for a model (shared and frozen when it has no overrides: do not change it). */
  #target(modelId: string, overrides?: Record<string, unknown>): ResolvedTarget | undefined {
    if (overrides && Object.keys(overrides).length > 0) return this.#build(modelId, overrides);
    let target = this.#plainTargets.get(modelId);
    if (!target) {
      target = this.#build(modelId, noOverrides);
      // Only configured models are kept: a client naming models at random must not grow the map.
      if (target) this.#plainTargets.set(modelId, Object.freeze(target));
    }
    return target;
  }

  #build(modelId: string, overrides: Record<string, unknown>): ResolvedTarget | undefined {
    const { models, providers } = this.#options.config;
    if (!Object.hasOwn(models, modelId)) return undefined;
    const model = models[modelId]!;
    if (!Object.hasOwn(providers, model.provider)) return undefined;
    const provider = providers[model.provider]!;
    return {
      model: modelId,
      provider: model.provider,
      providerType: provider.type,
      upstreamModel: model.model,
      contextWindow: model.contextWindow,
      ...(model.maxOutputTokens === undefined ? {} : { maxOutputTokens: model.maxOutputTokens }),
      capabilities: model.capabilities,
      ...(model.price === undefined ? {} : { price: model.price }),
      overrides,
    };
  }
}
