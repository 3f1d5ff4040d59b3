import { existsSync } from 'node:fs';
import PDFDocument from 'pdfkit';
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

export function toMarkdown(exported: ExportedConversation): string {
  const lines = [`# ${exported.title || 'Conversation'}`, ''];
  if (exported.systemPrompt) lines.push('> **System**', ...quote(exported.systemPrompt), '');
  for (const message of exported.messages) {
    if (message.role === 'user') lines.push('## User', '', message.content, '');
    else {
      lines.push(`## Assistant${message.model ? ` (${message.model})` : ''}`, '', message.content, '');
      lines.push(
        `_${message.inputTokens} input tokens, ${message.outputTokens} output tokens, ${message.credits} credits_`,
        '',
      );
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function quote(text: string): string[] {
  return text.split('\n').map((line) => `> ${line}`);
}

/**
 * DejaVu Sans covers Latin, Arabic and most symbols; PDFKit's built-in Helvetica has Latin-1 only, so it is the
 * fallback on a machine without the font, where other scripts would print as blanks.
 */
const unicodeFont = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const unicodeBoldFont = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

export function toPdf(exported: ExportedConversation): Promise<Buffer> {
  const document = new PDFDocument({
    size: 'A4',
    margin: 56,
    info: { Title: exported.title || 'Conversation' },
  });
  const hasUnicode = existsSync(unicodeFont) && existsSync(unicodeBoldFont);
  const regular = hasUnicode ? unicodeFont : 'Helvetica';
  const bold = hasUnicode ? unicodeBoldFont : 'Helvetica-Bold';
  const chunks: Buffer[] = [];
  document.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    document.on('end', () => resolve(Buffer.concat(chunks)));
    document.on('error', reject);
  });

  document
    .font(bold)
    .fontSize(18)
    .text(exported.title || 'Conversation');
  document.moveDown(0.5);
  if (exported.systemPrompt) {
    document.font(bold).fontSize(10).fillColor('#475569').text('System');
    document.font(regular).fontSize(10).text(exported.systemPrompt);
    document.moveDown();
  }
  for (const message of exported.messages) {
    const heading =
      message.role === 'user' ? 'User' : `Assistant${message.model ? ` (${message.model})` : ''}`;
    document.font(bold).fontSize(11).fillColor('#312e81').text(heading);
    document.font(regular).fontSize(11).fillColor('#0f172a').text(message.content);
    if (message.role === 'assistant') {
      document
        .fontSize(8)
        .fillColor('#64748b')
        .text(
          `${message.inputTokens} input tokens, ${message.outputTokens} output tokens, ${message.credits} credits`,
        );
    }
    document.moveDown();
  }
  document.end();
  return done;
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
