/**
 * Gemini's `Schema` is a subset of OpenAPI 3.0: no `additionalProperties`, `$schema`, `const`, or type
 * arrays. This keeps what it understands and rewrites the common JSON Schema idioms, instead of letting
 * Gemini reject a tool an OpenAI client sent in good faith.
 */
const keptKeys = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);

export function convertJsonSchemaToGemini(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const source = schema as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'const') {
      result.enum = [value];
      continue;
    }
    if (!keptKeys.has(key)) continue;
    if (key === 'type' && Array.isArray(value)) {
      const types = value.filter((type) => type !== 'null');
      if (types.length !== value.length) result.nullable = true;
      result.type = types[0];
      continue;
    }
    if (key === 'properties' && typeof value === 'object' && value !== null) {
      result.properties = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, child]) => [
          name,
          convertJsonSchemaToGemini(child),
        ]),
      );
      continue;
    }
    if (key === 'items') {
      result.items = convertJsonSchemaToGemini(value);
      continue;
    }
    if (key === 'anyOf' && Array.isArray(value)) {
      const nonNull = value.filter((option) => (option as { type?: unknown })?.type !== 'null');
      if (nonNull.length !== value.length) result.nullable = true;
      if (nonNull.length === 1) Object.assign(result, convertJsonSchemaToGemini(nonNull[0]));
      else result.anyOf = nonNull.map(convertJsonSchemaToGemini);
      continue;
    }
    result[key] = value;
  }
  if (source.const !== undefined && result.type === undefined)
    result.type = typeof source.const === 'number' ? 'number' : 'string';
  return result;
}

/** True for `{ type: 'object' }` without properties, which Gemini rejects as function parameters. */
export function isEmptyObjectSchema(schema: Record<string, unknown> | undefined): boolean {
  if (!schema) return true;
  const properties = schema.properties as Record<string, unknown> | undefined;
  return schema.type === 'object' && (!properties || Object.keys(properties).length === 0);
}
