import { describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../api/studio';
import { latestLeafFrom, pathTo, siblingsOf } from './branches';

function message(
  id: string,
  parentId: string | null,
  role: 'user' | 'assistant',
  minute: number,
): StoredMessage {
  return {
    id,
    parentId,
    role,
    content: id,
    attachments: [],
    model: null,
    inputTokens: 0,
    outputTokens: 0,
    credits: 0,
    status: 'complete',
    createdAt: `2025-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`,
  };
}

// q1 → a1 ; q1 edited as q2 → a2, a2 regenerated as a3
const messages = [
  message('q1', null, 'user', 1),
  message('a1', 'q1', 'assistant', 2),
  message('q2', null, 'user', 3),
  message('a2', 'q2', 'assistant', 4),
  message('a3', 'q2', 'assistant', 5),
];

describe('conversation branches', () => {
  it('follows parents from a leaf to the first message', () => {
    expect(pathTo(messages, 'a2').map((entry) => entry.id)).toEqual(['q2', 'a2']);
    expect(pathTo(messages, null)).toEqual([]);
  });

  it('lists the versions of a message in the order they were written', () => {
    expect(siblingsOf(messages, messages[0]!).map((entry) => entry.id)).toEqual(['q1', 'q2']);
    expect(siblingsOf(messages, messages[3]!).map((entry) => entry.id)).toEqual(['a2', 'a3']);
  });

  it('switching to a version shows its latest continuation', () => {
    expect(latestLeafFrom(messages, messages[2]!).id).toBe('a3');
    expect(latestLeafFrom(messages, messages[0]!).id).toBe('a1');
  });
});
