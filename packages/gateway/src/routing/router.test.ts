import { describe, expect, it } from 'vitest';
import { parseConfig } from '../testing/helpers.js';
import { matchesConditions } from './route-conditions.js';
import { Router } from './router.js';
import { orderWeighted, seededRandom } from './strategies.js';

const config = parseConfig({
  providers: {
    openai: { type: 'openai-compatible', preset: 'openai', keys: ['k'] },
    claude: { type: 'anthropic', keys: ['k'] },
    groq: { type: 'openai-compatible', preset: 'groq', keys: [] },
  },
  models: {
    'gpt-4o': { provider: 'openai', model: 'gpt-4o', contextWindow: 128_000 },
    sonnet: { provider: 'claude', model: 'claude-sonnet-4', contextWindow: 200_000 },
    llama: { provider: 'groq', model: 'llama-3.3-70b', contextWindow: 128_000 },
  },
  routes: {
    chat: { strategy: 'fallback', targets: [{ model: 'sonnet' }, { model: 'llama' }, { model: 'gpt-4o' }] },
    balanced: {
      strategy: 'weighted',
      targets: [
        { model: 'gpt-4o', weight: 3 },
        { model: 'sonnet', weight: 1 },
      ],
    },
    tiered: [
      { when: [{ header: { name: 'X-Region', equals: 'eu' } }], targets: [{ model: 'sonnet' }] },
      { when: [{ plan: ['pro', 'team'] }], targets: [{ model: 'gpt-4o', overrides: { max_tokens: 4000 } }] },
      { targets: [{ model: 'llama' }, { model: 'gpt-4o', overrides: { max_tokens: 500 } }] },
    ],
  },
});

const router = (random = Math.random) =>
  new Router({ config, random, isProviderUsable: (provider) => provider !== 'groq' });

describe('Router', () => {
  it('keeps the configured order for fallback routes and leaves unusable providers out', () => {
    const route = router().resolve('chat', { headers: {} });
    expect(route?.targets.map((target) => target.model)).toEqual(['sonnet', 'gpt-4o']);
    expect(route?.targets[0]).toMatchObject({
      provider: 'claude',
      providerType: 'anthropic',
      upstreamModel: 'claude-sonnet-4',
    });
  });

  it('resolves a plain model id to itself and an unknown id to undefined', () => {
    expect(
      router()
        .resolve('gpt-4o', { headers: {} })
        ?.targets.map((target) => target.model),
    ).toEqual(['gpt-4o']);
    expect(router().resolve('missing', { headers: {} })).toBeUndefined();
  });

  it('knows no model or route named after a member every object inherits', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(router().resolve(name, { headers: {} })).toBeUndefined();
    }
  });

  it('refuses a config whose model names a provider, or whose route targets a model, that only objects inherit', () => {
    const base = {
      providers: { openai: { type: 'openai-compatible' as const, preset: 'openai' as const, keys: ['k'] } },
      models: { 'gpt-4o': { provider: 'openai', model: 'gpt-4o', contextWindow: 128_000 } },
    };
    expect(() =>
      parseConfig({
        ...base,
        models: { odd: { provider: 'constructor', model: 'x', contextWindow: 1_000 } },
      }),
    ).toThrow(/unknown provider .*constructor/);
    expect(() => parseConfig({ ...base, routes: { chat: { targets: [{ model: 'toString' }] } } })).toThrow(
      /unknown model .*toString/,
    );
    expect(() =>
      parseConfig({
        providers: {
          toString: { type: 'openai-compatible' as const, preset: 'openai' as const, keys: ['k'] },
        },
        models: { 'gpt-4o': { provider: 'toString', model: 'gpt-4o', contextWindow: 128_000 } },
      }),
    ).toThrow(/provider id .*toString.* is a name every JavaScript object has/);
    // An alias may take a name objects inherit: it is no model's id.
    const config = parseConfig({ ...base, routes: { valueOf: { targets: [{ model: 'gpt-4o' }] } } });
    const named = new Router({ config, random: Math.random, isProviderUsable: () => true });
    expect(named.resolve('valueOf', { headers: {} })?.targets.map((target) => target.model)).toEqual([
      'gpt-4o',
    ]);
  });

  it('distributes weighted routes by weight (seeded)', () => {
    const seeded = router(seededRandom(42));
    const firsts = { 'gpt-4o': 0, sonnet: 0 } as Record<string, number>;
    for (let draw = 0; draw < 4000; draw += 1) {
      const targets = seeded.resolve('balanced', { headers: {} })!.targets;
      expect(targets).toHaveLength(2);
      firsts[targets[0]!.model]! += 1;
    }
    expect(firsts['gpt-4o']! / 4000).toBeGreaterThan(0.7);
    expect(firsts['gpt-4o']! / 4000).toBeLessThan(0.8);
  });

  it('draws weighted order without replacement, reproducibly for one seed', () => {
    const targets = [
      { model: 'a', weight: 1 },
      { model: 'b', weight: 1 },
      { model: 'c', weight: 1 },
    ];
    const first = orderWeighted(targets, seededRandom(7)).map((target) => target.model);
    const second = orderWeighted(targets, seededRandom(7)).map((target) => target.model);
    expect(first).toEqual(second);
    expect([...first].sort()).toEqual(['a', 'b', 'c']);
  });

  it('chooses a variant by header, then plan, then the default', () => {
    const byHeader = router().resolve('tiered', { headers: { 'x-region': 'eu' }, plan: 'pro' });
    expect(byHeader?.targets.map((target) => target.model)).toEqual(['sonnet']);
    const byPlan = router().resolve('tiered', { headers: { 'x-region': 'us' }, plan: 'team' });
    expect(byPlan?.targets[0]).toMatchObject({ model: 'gpt-4o', overrides: { max_tokens: 4000 } });
    const fallback = router().resolve('tiered', { headers: {}, plan: 'free' });
    expect(fallback?.targets.map((target) => [target.model, target.overrides])).toEqual([
      ['gpt-4o', { max_tokens: 500 }],
    ]);
  });

  it('requires every condition of a variant', () => {
    const conditions = [{ header: { name: 'x-beta', equals: '1' } }, { plan: ['pro'] }];
    expect(matchesConditions(conditions, { headers: { 'X-Beta': '1' }, plan: 'pro' })).toBe(true);
    expect(matchesConditions(conditions, { headers: { 'X-Beta': '1' }, plan: 'free' })).toBe(false);
    expect(matchesConditions(conditions, { headers: {}, plan: 'pro' })).toBe(false);
    expect(matchesConditions(undefined, { headers: {} })).toBe(true);
  });
});

describe('gatewayConfigSchema', () => {
  it('rejects routes to unknown models and models of unknown providers', () => {
    expect(() =>
      parseConfig({
        providers: { openai: { type: 'openai-compatible', preset: 'openai', keys: [] } },
        models: { a: { provider: 'nobody', model: 'x', contextWindow: 1 } },
        routes: { r: { targets: [{ model: 'missing' }] } },
      }),
    ).toThrow(/unknown provider \\"nobody\\"[\s\S]*unknown model \\"missing\\"/);
  });

  it('drops empty keys (unset environment variables) and fills resilience defaults', () => {
    const parsed = parseConfig({
      providers: { openai: { type: 'openai-compatible', preset: 'openai', keys: ['', ' sk-1 '] } },
      models: {},
    });
    expect(parsed.providers.openai?.keys).toEqual(['sk-1']);
    expect(parsed.resilience.retry.attempts).toBe(2);
    expect(parsed.resilience.breaker).toEqual({ failureThreshold: 5, openMs: 30_000 });
  });
});
