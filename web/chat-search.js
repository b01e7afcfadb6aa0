// Message search from the sidebar: a query, its results a page at a time
// ("More results" asks with the last page's `next`), and a result opened: its
// room or direct conversation, at the message (loading older history until it
// is there). A refusal for searching too often says when to try again. A
// cashtag chosen in a message searches for it, and its symbol's past quotes
// (the bot's answers) show above what was said about it.
//
// Must not build requests or read answers by hand (search.js) or draw
// (search-view.js); going to the message is chat-messages.js's.

import { toast } from './render.js';
import {
  hideSearch, renderPastQuotes, renderSearchResults, renderSearchStatus,
} from './search-view.js';
import {
  pastQuotes, pastQuotesPath, queryProblem, readSearchPage, resultTarget, searchPath, searchProblem,
} from './search.js';
import { quoteSymbol } from './stocks.js';
import { $ } from './util.js';

export class SearchController {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    /** The query whose results are shown, their `next`, and the results so far. */
    this.query = '';
    this.next = null;
    this.results = [];
    /** The request running, so a second Enter does not send another. */
    this.running = null;
    /** The symbol whose past quotes are asked for or shown, or null. */
    this.quotesFor = null;
    this.bind();
  }

  /** A session ends (or starts): nothing of the last one's searches stays. */
  reset() {
    this.quotesFor = null;
    this.query = '';
    this.next = null;
    this.results = [];
    this.running = null;
    hideSearch();
  }

  /** Searches `q` from the first page, or (`more`) the page after the results shown. */
  async run(q, { more = false } = {}) {
    const { chat } = this;
    if (!chat.started || this.running) return;
    const problem = more ? '' : queryProblem(q);
    if (problem) {
      renderSearchResults(this.results = [], { rooms: chat.model.rooms, more: false, onOpen: () => {} });
      renderSearchStatus(problem);
      return;
    }
    const query = more ? this.query : q.trim();
    const { model } = chat;
    renderSearchStatus(more ? 'Loading more…' : 'Searching…');
    if (!more) renderSearchResults([], { rooms: model.rooms, more: false, onOpen: () => {} });
    this.running = chat.session.request('GET', searchPath(query, { before: more ? this.next : null }));
    let page;
    try {
      page = readSearchPage(await this.running);
    } catch (err) {
      if (chat.model === model) renderSearchStatus(searchProblem(err));
      return;
    } finally {
      this.running = null;
    }
    if (chat.model !== model) return;
    this.query = query;
    this.results = more ? [...this.results, ...page.results] : page.results;
    this.next = page.next;
    this.render();
    const n = this.results.length;
    renderSearchStatus(n ? `${n} message${n === 1 ? '' : 's'} found for "${query}"${this.next ? ', more below' : ''}.` : `Nothing found for "${query}".`);
  }

  /**
   * A cashtag chosen in a message ("$AAPL"): the search for it (who talked
   * about it lately), and above that its symbol's past quotes, in the sidebar
   * (opened on a phone); the focus goes to the search box.
   */
  async runCashtag(tag) {
    const { chat } = this;
    if (!chat.started) return;
    const input = $('search-input');
    input.value = tag;
    if (chat.layout.isNarrow) chat.layout.openDrawer();
    input.focus();
    const symbol = quoteSymbol(tag);
    renderPastQuotes(symbol, null, {});
    const discussion = this.run(tag);
    await this.loadPastQuotes(symbol);
    await discussion;
  }

  /** The bot's answers that name `symbol`, newest first; nothing shown when the search fails. */
  async loadPastQuotes(symbol) {
    const { chat } = this;
    const { model } = chat;
    const asked = symbol;
    this.quotesFor = asked;
    let page;
    try {
      page = readSearchPage(await chat.session.request('GET', pastQuotesPath(symbol)));
    } catch {
      return;
    }
    // Signed out, or another search (or Close) since.
    if (chat.model !== model || this.quotesFor !== asked) return;
    renderPastQuotes(symbol, pastQuotes(page.results, symbol), {
      rooms: model.rooms,
      onOpen: (result) => this.open(result),
    });
  }

  render() {
    renderSearchResults(this.results, {
      rooms: this.chat.model.rooms,
      more: !!this.next,
      onOpen: (result) => this.open(result),
    });
  }

  /** A result chosen: its conversation, at the message. */
  open(result) {
    const { chat } = this;
    const target = resultTarget(result);
    if (target.kind === 'dm') {
      chat.messages.goTo(chat.dmConv(target.name), result.id);
      return;
    }
    const room = chat.model.rooms.find((r) => r.id === target.id);
    if (!room) {
      toast('That room is not in your list any more: open it from "Rooms you left" first.', { code: 'search', kind: 'info' });
      return;
    }
    chat.messages.goTo(chat.roomConv(room.id, room.name), result.id);
  }

  bind() {
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      // A search typed is not a cashtag's: no past quotes with it.
      this.quotesFor = null;
      renderPastQuotes('', null, {});
      this.run($('search-input').value);
    });
    $('search-more').addEventListener('click', () => this.run(this.query, { more: true }));
    $('search-close').addEventListener('click', () => {
      this.reset();
      $('search-input').value = '';
      $('search-input').focus();
    });
  }
}
