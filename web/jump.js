// Going to one message of a conversation (a reply's quote, a search result, a
// mention): older history is loaded (`before=`) page by page until the
// message is held, a bounded number of pages, then the view scrolls to it.
//
// Must not touch the DOM or the network: the page loader is handed in, so node
// can unit-test the rule (tests/web/jump.test.mjs).

/** Older pages loaded at most while looking for a message before giving up. */
export const JUMP_PAGES = 5;

/**
 * Loads older pages of `conv` with `loadOlder()` (which adds them to the
 * conversation) until it holds message `id`. Resolves with 'found', 'missing'
 * (the history is all there, or already goes back past it, and it is not in
 * it: another room's, or gone) or 'gave-up' (still older after `maxPages` pages).
 */
export async function loadUntilHeld(conv, id, loadOlder, maxPages = JUMP_PAGES) {
  for (let pages = 0; ; pages += 1) {
    if (conv.byId.has(id)) return 'found';
    const older = conv.oldestId == null || id < conv.oldestId;
    if (!older || !conv.canLoadOlder) return 'missing';
    if (pages >= maxPages) return 'gave-up';
    const before = conv.oldestId;
    await loadOlder();
    if (conv.oldestId === before && !conv.byId.has(id)) return conv.canLoadOlder ? 'gave-up' : 'missing';
  }
}

/** What the page says when it could not go to the message; null when it could. */
export function jumpNotice(result) {
  if (result === 'missing') return 'That message is no longer in this conversation.';
  if (result === 'gave-up') return `That message is further back than ${JUMP_PAGES} pages of history; scroll up to find it.`;
  return null;
}
