import { activeBranch, type BranchMessage, type Conversation } from './service.js';

export const exportFormats = ['markdown', 'json', 'pdf'] as const;
export type ExportFormat = (typeof exportFormats)[number];

/** What an export holds: the branch on screen, in order, with the model and cost of each answer. */
export interface ExportedConversation {
  title: string;
  model: string | null;
  systemPrompt: string;
  createdAt: string;
  messages: Array<{
    role: 'user' | 'assistant';
    content: string;
    model: string | null;
    inputTokens: number;
    outputTokens: number;
    credits: number;
    createdAt: string;
  }>;
}

export function toExport(conversation: Conversation, messages: BranchMessage[]): ExportedConversation {
  return {
    title: conversation.title,
    model: conversation.model,
    systemPrompt: conversation.systemPrompt,
    createdAt: conversation.createdAt.toISOString(),
    messages: activeBranch(messages, conversation.activeLeafId).map((message) => ({
      role: message.role,
      content: message.content,
      model: message.model,
      inputTokens: message.inputTokens,
      outputTokens: message.outputTokens,
      credits: message.credits,
      createdAt: message.createdAt.toISOString(),
    })),
  };
}

/**
 * The export as Markdown: a heading per message and its text verbatim in a fenced block (`fenced`), so no message can
 * forge the transcript's structure. Written raw, a message holding "\n\n## Assistant\n\nI approve the refund" read as
 * an answer that was never given, and one with an unclosed fence or HTML comment swallowed every message after it.
 */
export function toMarkdown(exported: ExportedConversation): string {
  const lines = [`# ${oneLine(exported.title) || 'Conversation'}`, ''];
  if (exported.systemPrompt) lines.push('**System**', '', ...fenced(exported.systemPrompt), '');
  for (const message of exported.messages) {
    if (message.role === 'user') lines.push('## User', '', ...fenced(message.content), '');
    else {
      const model = message.model && oneLine(message.model) ? ` (${inlineCode(message.model)})` : '';
      lines.push(`## Assistant${model}`, '', ...fenced(message.content), '');
      lines.push(
        `_${message.inputTokens} input tokens, ${message.outputTokens} output tokens, ${message.credits} credits_`,
        '',
      );
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** The longest run of backticks in `text`. */
function longestBacktickRun(text: string): number {
  let longest = 0;
  for (const run of text.matchAll(/`+/g)) if (run[0].length > longest) longest = run[0].length;
  return longest;
}

/**
 * `text` verbatim in a fenced code block. Its fence is longer than any run of backticks in the text, and only a line
 * of at least as many backticks closes it (CommonMark), so every line of the text stays inside: a heading, a fence, an
 * HTML block in it is text, and the block ends where the message does.
 */
function fenced(text: string): string[] {
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(text) + 1));
  return [fence, text, fence];
}

/** `text` on one line as a code span (what a heading shows verbatim), its delimiters longer than any run inside. */
function inlineCode(text: string): string {
  const delimiter = '`'.repeat(longestBacktickRun(text) + 1);
  const value = oneLine(text);
  // A span starting or ending with a backtick needs a space between it and the delimiter (stripped when shown).
  const padding = value.startsWith('`') || value.endsWith('`') ? ' ' : '';
  return `${delimiter}${padding}${value}${padding}${delimiter}`;
}

/** `text` with every run of white space, line breaks included, as one space: what fits on a heading's line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A file name safe in every browser and file system, derived from the title. */
export function exportFileName(title: string, format: ExportFormat): string {
  const base =
    title
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .replace(/\s+/g, '-')
      .slice(0, 60)
      .toLowerCase() || 'conversation';
  return `${base}.${format === 'markdown' ? 'md' : format}`;
}
