import { gatewayConfigSchema } from '@webox/gateway';
import { z } from 'zod';
import { paymentsConfigSchema } from '../modules/payments/config.js';

/** Server-side sections of webox.config.yaml, beside the gateway's providers, models and routes. */
const serverSections = z.object({
  cache: z
    .object({
      /** Aliases or models whose answers are cached for every caller (TTL in seconds), without asking. */
      aliases: z.record(z.string(), z.number().int().positive().max(604_800)).default({}),
    })
    .optional(),
  /** Credit packs and bank-transfer details; provider keys stay in the environment. */
  payments: paymentsConfigSchema.optional(),
});

export const weboxConfigSchema = z.intersection(gatewayConfigSchema, serverSections);
export type WeboxConfig = z.output<typeof weboxConfigSchema>;
