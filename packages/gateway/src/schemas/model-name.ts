import { z } from 'zod';

/**
 * A model id or alias as a client names it. It is looked up, echoed in answers and headers, and stored in usage
 * records, so it must be text PostgreSQL can hold: no NUL character and no lone UTF-16 surrogate (either made a whole
 * batch of usage records fail to insert), and no longer than any real name.
 */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const modelNameSchema = z
  .string()
  .min(1)
  .max(256)
  .refine((name) => !name.includes('\u0000') && !loneSurrogate.test(name), {
    message: 'must be text without NUL characters or unpaired surrogates',
  });
