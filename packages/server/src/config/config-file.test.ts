import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { interpolateEnv, loadConfigFile } from './config-file.js';
import { ConfigError } from './env.js';

const schema = z.object({
  providers: z.record(z.string(), z.object({ baseUrl: z.url(), keys: z.array(z.string()) })),
});

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'webox-config-'));
});
afterAll(() => rm(directory, { recursive: true, force: true }));

async function write(name: string, text: string) {
  const file = path.join(directory, name);
  await writeFile(file, text);
  return file;
}

describe('interpolateEnv', () => {
  it('replaces references in strings, keeps other values, and honours defaults', () => {
    const result = interpolateEnv(
      { a: '${KEY}', b: ['x-${KEY}-y', 3, true], c: '${MISSING:-fallback}', d: '${MISSING:-}' },
      { KEY: 'value' },
    );
    expect(result).toEqual({ a: 'value', b: ['x-value-y', 3, true], c: 'fallback', d: '' });
  });

  it('stops on a required reference that is not set, naming the variable and where it is used', () => {
    expect(() => interpolateEnv({ providers: { openai: { keys: ['${OPENAI_KEY}'] } } }, {})).toThrow(
      new ConfigError(
        'Invalid setting OPENAI_KEY: not set, but referenced by the config file at providers.openai.keys[0]',
      ),
    );
  });

  it('cannot be used to inject YAML structure through an environment value', async () => {
    const file = await write(
      'inject.yaml',
      'providers:\n  a:\n    baseUrl: https://api.example.com\n    keys: ["${KEY}"]\n',
    );
    const config = await loadConfigFile(file, schema, { KEY: 'k"]\n  evil:\n    baseUrl: http://attacker' });
    expect(Object.keys(config.providers)).toEqual(['a']);
    expect(config.providers.a?.keys[0]).toContain('evil');
  });
});

describe('loadConfigFile', () => {
  it('loads and validates a good file', async () => {
    const file = await write(
      'good.yaml',
      'providers:\n  a:\n    baseUrl: https://api.example.com/v1\n    keys: ["${KEY}"]\n',
    );
    await expect(loadConfigFile(file, schema, { KEY: 'test-key' })).resolves.toEqual({
      providers: { a: { baseUrl: 'https://api.example.com/v1', keys: ['test-key'] } },
    });
  });

  it('points at the exact path of a malformed setting in one line', async () => {
    const file = await write('bad.yaml', 'providers:\n  a:\n    baseUrl: not a url\n    keys: []\n');
    await expect(loadConfigFile(file, schema, {})).rejects.toThrow(
      /^Invalid setting WEBOX_CONFIG: .*bad\.yaml at providers\.a\.baseUrl: /,
    );
  });

  it('reports invalid YAML with its line and a missing file by name', async () => {
    const file = await write('broken.yaml', 'providers:\n  a: [unclosed\n');
    await expect(loadConfigFile(file, schema, {})).rejects.toThrow(/is not valid YAML/);
    await expect(loadConfigFile(path.join(directory, 'nope.yaml'), schema, {})).rejects.toThrow(
      /^Invalid setting WEBOX_CONFIG: file not found/,
    );
  });
});
