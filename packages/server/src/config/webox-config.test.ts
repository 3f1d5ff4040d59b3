import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from './config-file.js';
import { weboxConfigSchema } from './webox-config.js';

const shipped = fileURLToPath(new URL('../../../../webox.config.yaml', import.meta.url));

describe('the shipped webox.config.yaml', () => {
  it('is valid with no provider key set, so a fresh clone starts', async () => {
    const config = await loadConfigFile(shipped, weboxConfigSchema, {});
    expect(config.providers.openai?.keys).toEqual([]);
    expect(config.models['gpt-4o-mini']?.price?.inputPerMillion).toBe(2025);
    expect(Object.keys(config.routes)).toEqual(expect.arrayContaining(['smart', 'fast']));
  });

  it('picks keys up from the environment', async () => {
    const config = await loadConfigFile(shipped, weboxConfigSchema, {
      OPENAI_API_KEY: 'test-key-1',
      OPENAI_API_KEY_2: 'test-key-2',
    });
    expect(config.providers.openai?.keys).toEqual(['test-key-1', 'test-key-2']);
  });
});
