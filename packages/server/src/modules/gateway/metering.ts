import {
  type ChatCompletionRequest,
  classifyMediaPart,
  type EmbeddingsRequest,
  type MediaPart,
  type ResolvedTarget,
  type Usage,
} from '@webox/gateway';
import type { V1Caller } from './v1-auth.js';

/** A request's reservation of credits: settle the real usage once, or release it all. */
export interface Charge {
  /** Charges `usage` as priced for `model` (the one that served) and releases the rest. Safe to call twice. */
  settle(options: { usage: Usage; model: string }): Promise<{ charged: number; balance?: number }>;
  /** Releases everything held (nothing was delivered, or the caller's own key served); no usage entry. */
  release(): Promise<void>;
}

/** How /v1 pays for calls; the billing module provides the ledger-backed one. */
export interface Metering {
  readonly enabled: boolean;
  /**
   * Counts the request against the quotas and holds its worst case on any candidate; throws 402
   * `insufficient_credits` when unaffordable.
   */
  begin(options: {
    caller: V1Caller;
    requestId: string;
    /**
     * The candidates the platform pays the provider for. Those the caller's own provider keys cover are left out;
     * empty when they cover all: nothing is held, the request still counts against the quotas.
     */
    candidates: ResolvedTarget[];
    maxPromptTokens: number;
    maxOutputTokens: number;
  }): Promise<Charge>;
}

const freeCharge: Charge = {
  settle: async () => ({ charged: 0 }),
  release: async () => {},
};

/** Self-hosted use without credits (BILLING=off): every call is free and nothing is held. */
export const meteringOff: Metering = { enabled: false, begin: async () => freeCharge };

/** Role markers and separators each message adds to a prompt. */
const MESSAGE_OVERHEAD_TOKENS = 8;

/**
 * An upper bound on prompt tokens without a tokenizer: every token of every tokenizer in use covers at least
 * one byte of UTF-8, so the byte count of the text bounds the token count. Each image_url part counts
 * `mediaTokens` of what it carries (an image, or a PDF, audio, video some providers bill as such), classified once
 * from its URL, an inline PDF with its pages counted (providers bill a PDF by the page): the most it costs on the
 * candidates (the engine's `mediaTokenBound`). The whole never passes
 * `contextWindow` (`largestContextWindow` of the candidates): no provider bills a prompt longer than its model reads,
 * and a part's documented bound (a video at Gemini's 2,160,000 tokens) may be far past it.
 */
export function promptTokenBound(
  request: ChatCompletionRequest,
  mediaTokens: (part: MediaPart) => number,
  contextWindow: number,
): number {
  let bytes = 0;
  let media = 0;
  for (const message of request.messages) {
    bytes += MESSAGE_OVERHEAD_TOKENS;
    const { content } = message as { content?: unknown };
    if (typeof content === 'string') bytes += Buffer.byteLength(content);
    else if (Array.isArray(content)) {
      for (const part of content as Array<{ type: string; text?: string; image_url?: { url?: string } }>) {
        if (part.type === 'text') bytes += Buffer.byteLength(part.text ?? '');
        else media += mediaTokens(classifyMediaPart(part.image_url?.url ?? '', { countPages: true }));
      }
    }
    const toolCalls = (message as { tool_calls?: unknown }).tool_calls;
    if (toolCalls) bytes += Buffer.byteLength(JSON.stringify(toolCalls));
  }
  if (request.tools) bytes += Buffer.byteLength(JSON.stringify(request.tools));
  if (request.response_format) bytes += Buffer.byteLength(JSON.stringify(request.response_format));
  return Math.min(bytes + media, contextWindow);
}

/**
 * The most input tokens any of `candidates` may bill: the largest context window among their models (a provider
 * refuses a longer prompt, unbilled). 0 without candidates.
 */
export function largestContextWindow(candidates: readonly ResolvedTarget[]): number {
  let largest = 0;
  for (const target of candidates) if (target.contextWindow > largest) largest = target.contextWindow;
  return largest;
}

/**
 * An upper bound on embedding input tokens: bytes of text (as for prompts), and one token per id of a token array
 * (a number[] is one input, a number[][] several).
 */
export function embeddingsTokenBound(request: EmbeddingsRequest): number {
  const { input } = request;
  if (typeof input === 'string') return Buffer.byteLength(input);
  let tokens = 0;
  for (const item of input) {
    if (typeof item === 'number') return input.length;
    tokens += typeof item === 'string' ? Buffer.byteLength(item) : item.length;
  }
  return tokens;
}

/** Output tokens assumed when a request names no limit; it is also sent upstream so the hold covers the answer. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4_096;

/**
 * The answer cap sent upstream: the client's own limit, else the default, never more than the smallest model maximum
 * among the candidates. What the hold covers is the engine's `outputTokenBound` of the request carrying it (a
 * thinking budget an adapter adds, `n` choices).
 */
export function outputTokenCap(request: ChatCompletionRequest, candidates: ResolvedTarget[]): number {
  const asked = request.max_completion_tokens ?? request.max_tokens;
  let cap = asked ?? DEFAULT_MAX_OUTPUT_TOKENS;
  for (const target of candidates) {
    if (target.maxOutputTokens !== undefined && target.maxOutputTokens < cap) cap = target.maxOutputTokens;
  }
  return cap;
}
