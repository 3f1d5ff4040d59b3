import type { StoredMessage } from '../../api/studio';

/** The messages from the first one down to `leafId`, following parents. */
export function pathTo(messages: readonly StoredMessage[], leafId: string | null): StoredMessage[] {
  const byId = new Map(messages.map((message) => [message.id, message]));
  const path: StoredMessage[] = [];
  let current = leafId ? byId.get(leafId) : undefined;
  while (current && path.length <= messages.length) {
    path.push(current);
    current = current.parentId ? byId.get(current.parentId) : undefined;
  }
  return path.reverse();
}

/** The versions of a message: every message with the same parent and role, oldest first. */
export function siblingsOf(messages: readonly StoredMessage[], message: StoredMessage): StoredMessage[] {
  return messages
    .filter((other) => other.parentId === message.parentId && other.role === message.role)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Where a branch ends: from `message`, keep following its most recent child. */
export function latestLeafFrom(messages: readonly StoredMessage[], message: StoredMessage): StoredMessage {
  let current = message;
  for (;;) {
    const children = messages
      .filter((other) => other.parentId === current.id)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (!children[0]) return current;
    current = children[0];
  }
}
