import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../config/config-file.js';
import { weboxConfigSchema } from '../../config/webox-config.js';

const shipped = fileURLToPath(new URL('../../../../../webox.config.yaml', import.meta.url));

describe('the payments section of the shipped webox.config.yaml', () => {
  it('sells packs priced in DZD, EUR and USD minor units, and no bank transfer while its account is unset', async () => {
    const config = await loadConfigFile(shipped, weboxConfigSchema, {});
    const starter = config.payments?.packs.find((pack) => pack.id === 'starter');
    expect(starter).toMatchObject({ credits: 100_000, prices: { DZD: 1000, EUR: 700, USD: 750 } });
    for (const pack of config.payments?.packs ?? []) {
      expect(Object.keys(pack.prices).sort()).toEqual(['DZD', 'EUR', 'USD']);
    }
    expect(config.payments?.bankTransfer).toBeUndefined();
  });

  it('offers the bank transfer once its details are in the environment', async () => {
    const config = await loadConfigFile(shipped, weboxConfigSchema, {
      BANK_NAME: 'Banque Exemple',
      BANK_ACCOUNT_NUMBER: 'DZ58 0000 0000 0000 0000 0000',
    });
    expect(config.payments?.bankTransfer).toMatchObject({
      accountHolder: 'WeBox',
      bankName: 'Banque Exemple',
      accountNumber: 'DZ58 0000 0000 0000 0000 0000',
      currencies: ['DZD', 'EUR'],
      ttlDays: 14,
    });
    expect(config.payments?.bankTransfer?.bic).toBeUndefined();
  });

  it('stops the boot when the account is set but the bank name is not', async () => {
    await expect(
      loadConfigFile(shipped, weboxConfigSchema, { BANK_ACCOUNT_NUMBER: 'DZ58 0000' }),
    ).rejects.toThrow(/payments\.bankTransfer\.bankName/);
  });
});
