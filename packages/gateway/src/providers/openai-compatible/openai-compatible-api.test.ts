import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isCommonChunk, openAICompatibleChunkSchema } from './openai-compatible-api.js';

const fixture = (name: string) => new URL(`./__fixtures__/${name}`, import.meta.url);

/** Every JSON event of the recorded streams (one per line; `[DONE]` and blank lines left out). */
const recordedEvents = ['text', 'tool-call', 'groq-usage', 'truncated'].flatMap((name) =>
  readFileSync(fixture(`${name}.chunks.txt`), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>),
);

/** Values of every JSON kind, to put where the schema expects one in particular. */
const oddValues: unknown[] = [
  null,
  undefined,
  0,
  1.5,
  Infinity,
  -Infinity,
  Number.NaN,
  '',
  'text',
  true,
  [],
  [1],
  {},
  { a: 1 },
];

/** Each event with one field (at the top, in a choice or in a delta) replaced by each odd value. */
function* variants(event: Record<string, unknown>): Generator<unknown> {
  for (const key of Object.keys(event)) {
    for (const value of oddValues) yield { ...event, [key]: value };
  }
  const choices = event.choices;
  if (!Array.isArray(choices) || choices.length === 0) return;
  const choice = choices[0] as Record<string, unknown>;
  for (const key of ['index', 'finish_reason', 'delta', 'logprobs']) {
    for (const value of oddValues) yield { ...event, choices: [{ ...choice, [key]: value }] };
  }
  const delta = choice.delta as Record<string, unknown> | undefined;
  for (const key of ['role', 'content', 'refusal', 'reasoning_content', 'reasoning', 'tool_calls']) {
    for (const value of oddValues)
      yield { ...event, choices: [{ ...choice, delta: { ...delta, [key]: value } }] };
  }
  yield { ...event, error: { message: 'boom' } };
  yield [event];
}

describe('isCommonChunk (the hand-checked shape of streamed events)', () => {
  it('accepts the plain text events of a recorded OpenAI stream, so they skip the schema', () => {
    const text = readFileSync(fixture('text.chunks.txt'), 'utf8');
    const contentEvents = text
      .split('\n')
      .filter((line) => line.includes('"content"'))
      .map((line) => JSON.parse(line.trim()));
    expect(contentEvents.length).toBeGreaterThan(1);
    for (const event of contentEvents) expect(isCommonChunk(event)).toBe(true);
  });

  it('accepts nothing the chunk schema refuses, and what it accepts parses to the same value', () => {
    let accepted = 0;
    let checked = 0;
    for (const event of recordedEvents) {
      for (const candidate of [event, ...variants(event)]) {
        checked += 1;
        if (!isCommonChunk(candidate)) continue;
        accepted += 1;
        const parsed = openAICompatibleChunkSchema.safeParse(candidate);
        expect(parsed.success, JSON.stringify(candidate)).toBe(true);
        expect(parsed.data).toEqual(candidate);
      }
    }
    // The variants must exercise both sides of the check.
    expect(accepted).toBeGreaterThan(20);
    expect(checked - accepted).toBeGreaterThan(100);
  });

  it('leaves usage, tool calls and errors to the schema', () => {
    const base = { id: 'c', choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] };
    expect(isCommonChunk(base)).toBe(true);
    expect(isCommonChunk({ ...base, usage: { prompt_tokens: 1 } })).toBe(false);
    expect(isCommonChunk({ ...base, x_groq: { usage: { prompt_tokens: 1 } } })).toBe(false);
    expect(isCommonChunk({ error: { message: 'overloaded' } })).toBe(false);
    const toolCall = { index: 0, id: 't', function: { name: 'f', arguments: '{}' } };
    expect(isCommonChunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [toolCall] } }] })).toBe(
      false,
    );
  });
});
