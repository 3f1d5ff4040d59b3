import { z } from 'zod';

/**
 * The gateway part of `webox.config.yaml`: providers, models, routes and resilience defaults.
 * Secrets arrive already interpolated by the server (`keys`).
 */

export const providerTypes = ['openai-compatible', 'anthropic', 'gemini', 'cohere'] as const;

export const presetNames = [
  'openai',
  'groq',
  'deepseek',
  'mistral',
  'together',
  'openrouter',
  'xai',
  'perplexity',
  'ollama',
  'vllm',
  'llamacpp',
] as const;

export type PresetName = (typeof presetNames)[number];

const providerConfigSchema = z
  .object({
    type: z.enum(providerTypes),
    preset: z.enum(presetNames).optional(),
    baseUrl: z.url().optional(),
    /** Keys already interpolated; empty strings (an unset env var) are dropped. */
    keys: z
      .array(z.string())
      .default([])
      .transform((keys) => keys.map((key) => key.trim()).filter((key) => key.length > 0)),
    headers: z.record(z.string(), z.string()).default({}),
    /** Allows a base URL on a private or loopback address (local Ollama, vLLM, llama.cpp). Default false. */
    allowPrivateNetwork: z.boolean().optional(),
    /** Per-attempt timeout for this provider, overriding the resilience default. */
    timeoutMs: z.number().int().positive().optional(),
  })
  .superRefine((provider, context) => {
    if (provider.type === 'openai-compatible' && !provider.preset && !provider.baseUrl) {
      context.addIssue({
        code: 'custom',
        message: 'an openai-compatible provider needs a preset or a baseUrl',
        path: ['baseUrl'],
      });
    }
    if (provider.type !== 'openai-compatible' && provider.preset) {
      context.addIssue({
        code: 'custom',
        message: 'preset applies to openai-compatible only',
        path: ['preset'],
      });
    }
  });

export const modelCapabilities = ['chat', 'vision', 'tools', 'json', 'embeddings'] as const;
export type ModelCapability = (typeof modelCapabilities)[number];

const priceSchema = z.object({
  /** Credits per million input tokens (integer). */
  inputPerMillion: z.number().int().nonnegative(),
  outputPerMillion: z.number().int().nonnegative(),
  cachedInputPerMillion: z.number().int().nonnegative().optional(),
});

const modelConfigSchema = z.object({
  provider: z.string().min(1),
  /** The id the provider knows. */
  model: z.string().min(1),
  contextWindow: z.number().int().positive(),
  maxOutputTokens: z.number().int().positive().optional(),
  capabilities: z.array(z.enum(modelCapabilities)).default(['chat']),
  price: priceSchema.optional(),
});

const retrySchema = z.object({
  /** Tries per target, the first one included. */
  attempts: z.number().int().min(1).max(10),
  baseDelayMs: z.number().int().nonnegative(),
  maxDelayMs: z.number().int().nonnegative(),
});

const routeConditionSchema = z
  .object({
    header: z.object({ name: z.string().min(1), equals: z.string() }).optional(),
    plan: z.array(z.string()).min(1).optional(),
  })
  .refine((condition) => condition.header !== undefined || condition.plan !== undefined, {
    message: 'a condition needs header or plan',
  });

const routeTargetSchema = z.object({
  model: z.string().min(1),
  weight: z.number().positive().optional(),
  /** Request parameters forced for this target (e.g. a lower max_tokens on a cheap fallback). */
  overrides: z.record(z.string(), z.unknown()).optional(),
});

const routeVariantSchema = z.object({
  strategy: z.enum(['fallback', 'weighted']).default('fallback'),
  targets: z.array(routeTargetSchema).min(1),
  /** Every condition listed must hold; a variant without `when` is the default. */
  when: z.array(routeConditionSchema).optional(),
  retry: retrySchema.optional(),
  /** Also fall back when a target rejects the prompt as too long for its context. Default false. */
  fallbackOnContextLength: z.boolean().default(false),
});

const resilienceSchema = z
  .object({
    attemptTimeoutMs: z.number().int().positive().default(60_000),
    totalTimeoutMs: z.number().int().positive().default(180_000),
    retry: retrySchema
      .extend({ maxRetryAfterMs: z.number().int().nonnegative().default(20_000) })
      .default({ attempts: 2, baseDelayMs: 250, maxDelayMs: 4_000, maxRetryAfterMs: 20_000 }),
    breaker: z
      .object({
        failureThreshold: z.number().int().min(1).default(5),
        openMs: z.number().int().positive().default(30_000),
      })
      .default({ failureThreshold: 5, openMs: 30_000 }),
  })
  .default({
    attemptTimeoutMs: 60_000,
    totalTimeoutMs: 180_000,
    retry: { attempts: 2, baseDelayMs: 250, maxDelayMs: 4_000, maxRetryAfterMs: 20_000 },
    breaker: { failureThreshold: 5, openMs: 30_000 },
  });

export const gatewayConfigSchema = z
  .object({
    providers: z.record(z.string(), providerConfigSchema),
    models: z.record(z.string(), modelConfigSchema),
    /** An alias maps to one route or to several variants chosen by their conditions, in order. */
    routes: z
      .record(z.string(), z.union([routeVariantSchema, z.array(routeVariantSchema).min(1)]))
      .default({}),
    resilience: resilienceSchema,
  })
  .superRefine((config, context) => {
    for (const providerId of Object.keys(config.providers)) {
      // Provider ids key plain objects on the request path (a caller's own keys by provider).
      if (providerId in Object.prototype) {
        context.addIssue({
          code: 'custom',
          message: `provider id "${providerId}" is a name every JavaScript object has; choose another`,
          path: ['providers', providerId],
        });
      }
    }
    for (const [modelId, model] of Object.entries(config.models)) {
      if (!Object.hasOwn(config.providers, model.provider)) {
        context.addIssue({
          code: 'custom',
          message: `model "${modelId}" names unknown provider "${model.provider}"`,
          path: ['models', modelId, 'provider'],
        });
      }
    }
    for (const [alias, route] of Object.entries(config.routes)) {
      if (Object.hasOwn(config.models, alias)) {
        context.addIssue({
          code: 'custom',
          message: `route "${alias}" has the same id as a model`,
          path: ['routes', alias],
        });
      }
      const variants = Array.isArray(route) ? route : [route];
      variants.forEach((variant, variantIndex) => {
        variant.targets.forEach((target, targetIndex) => {
          if (!Object.hasOwn(config.models, target.model)) {
            context.addIssue({
              code: 'custom',
              message: `route "${alias}" targets unknown model "${target.model}"`,
              path: ['routes', alias, variantIndex, 'targets', targetIndex, 'model'],
            });
          }
        });
      });
    }
  });

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
/** The config as written in the file, before defaults. */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type ProviderConfig = GatewayConfig['providers'][string];
export type ModelConfig = GatewayConfig['models'][string];
export type RouteVariant = z.output<typeof routeVariantSchema>;
export type RouteTarget = z.output<typeof routeTargetSchema>;
export type RouteCondition = z.output<typeof routeConditionSchema>;
export type RetryConfig = z.output<typeof retrySchema>;
export type ResilienceConfig = GatewayConfig['resilience'];
export type ModelPrice = z.output<typeof priceSchema>;
