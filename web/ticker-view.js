// The ticker strip above a room's messages: each watched symbol with its last
// price and change against the previous close ("…" until it is priced), and
// the room's active price alerts, each with a ✕ that cancels it. Hidden when
// the room watches nothing and has no alert.
//
// Turns the state it is given (stocks.js readWatchlist) into DOM; a ✕ goes back
// through `onCancel(alert)`. Text only through textContent (util.el).

import {
  alertLabel, alertWords, changeWords, tickerItem, watchlistShown,
} from './stocks.js';
import { $, el, formatFullTime, show } from './util.js';

function symbolItem(item) {
  const t = tickerItem(item);
  const words = t.priced
    ? `${t.symbol} ${t.price}${t.change ? `, ${changeWords(t.change)} since the previous close` : ''}`
    : `${t.symbol}, no price yet`;
  const updated = item.refreshed_at ? formatFullTime(item.refreshed_at) : '';
  return el('li', {
    className: `ticker-item${t.change ? ` ${t.change.dir}` : ''}`,
    testid: 'ticker-item',
    dataset: { symbol: t.symbol, priced: t.priced ? 'yes' : 'no' },
    attrs: { title: updated ? `${words}. Updated ${updated}` : words },
  }, [
    el('span', { className: 'sr-only', text: words }),
    el('span', { className: 'ticker-symbol', text: t.symbol, attrs: { 'aria-hidden': 'true' } }),
    el('span', { className: 'ticker-price', testid: 'ticker-price', text: t.price, attrs: { 'aria-hidden': 'true' } }),
    t.change ? el('span', {
      className: `ticker-change ${t.change.dir}`,
      testid: 'ticker-change',
      text: `${t.change.arrow} ${t.change.text}`,
      attrs: { 'aria-hidden': 'true' },
    }) : null,
  ]);
}

function alertItem(alert, { canCancel, cancelling, onCancel }) {
  const label = alertLabel(alert);
  const cancel = canCancel(alert) ? el('button', {
    className: 'ticker-alert-cancel',
    testid: 'ticker-alert-cancel',
    text: '✕',
    attrs: {
      type: 'button',
      'aria-label': `Cancel alert ${alert.id}: ${alertWords(alert)}`,
      title: `Cancel this alert (/unalert=${alert.id})`,
      // Not `disabled`: the button keeps the focus while its cancellation is on its way.
      'aria-disabled': cancelling(alert) ? 'true' : null,
    },
  }) : null;
  if (cancel) {
    cancel.addEventListener('click', () => {
      if (cancel.getAttribute('aria-disabled') === 'true') return;
      cancel.setAttribute('aria-disabled', 'true');
      onCancel(alert);
    });
  }
  return el('li', {
    className: 'ticker-alert',
    testid: 'ticker-alert',
    dataset: { id: alert.id, symbol: alert.symbol },
    attrs: { title: `Alert ${alert.id}${alert.set_by ? ` set by ${alert.set_by}` : ''}: ${alertWords(alert)}` },
  }, [el('span', { className: 'ticker-alert-text', text: label }), cancel]);
}

/** The alert whose ✕ has the keyboard focus, and the position of that ✕ among them; null when none has. */
function focusedCancel(strip) {
  const active = document.activeElement;
  if (!active || !strip.contains(active) || !active.classList.contains('ticker-alert-cancel')) return null;
  const all = [...strip.querySelectorAll('.ticker-alert-cancel')];
  return { id: active.closest('[data-id]')?.dataset.id, index: all.indexOf(active) };
}

/**
 * The focus back where it was after the strip was drawn again (a refresh comes
 * every few seconds): the same alert's ✕, else the one now in its place, else
 * the last. Returns false when no ✕ is left to hold it.
 */
function restoreFocus(strip, was) {
  const all = [...strip.querySelectorAll('.ticker-alert-cancel')];
  const same = all.find((b) => b.closest('[data-id]')?.dataset.id === was.id);
  const target = same || all[Math.min(was.index, all.length - 1)];
  if (!target) return false;
  target.focus();
  return true;
}

/**
 * The strip for the room on screen: `state` {symbols, alerts}, or null (not a
 * room, or nothing known yet). `canCancel(alert)`: whether its ✕ is offered;
 * `cancelling(alert)`: whether its cancellation is on its way (✕ disabled). Returns false when the keyboard focus was on a ✕ and none is left for it
 * (the caller gives it a place), true otherwise.
 */
export function renderTicker(state, { canCancel = () => true, cancelling = () => false, onCancel = () => {} } = {}) {
  const strip = $('ticker-strip');
  const was = focusedCancel(strip);
  if (!watchlistShown(state)) {
    show(strip, false);
    $('ticker-list').replaceChildren();
    $('ticker-alert-list').replaceChildren();
    return !was;
  }
  $('ticker-list').replaceChildren(...state.symbols.map(symbolItem));
  show($('ticker-list'), state.symbols.length > 0);
  const n = state.alerts.length;
  $('ticker-alert-count').textContent = `${n} alert${n === 1 ? '' : 's'}`;
  $('ticker-alert-list').replaceChildren(...state.alerts.map((a) => alertItem(a, { canCancel, cancelling, onCancel })));
  show($('ticker-alerts'), n > 0);
  show(strip, true);
  return was ? restoreFocus(strip, was) : true;
}
