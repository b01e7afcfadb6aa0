// Tab lists (role="tablist"): the Rooms/Direct tabs of the sidebar and the
// Sign in/Create account tabs. Every tab is a button in the Tab order (people
// who use Tab, not arrows, reach each one), and the arrow keys, Home and End
// move between them and select, as a tab list's keys do.
//
// tabKeyTarget is the rule, without the DOM (tests/web/tabs.test.mjs);
// bindTabs wires it to buttons. Nothing runs at import.

/** Where a key pressed on tab `index` of `count` moves: an index, or null for a key that is not the tab list's. */
export function tabKeyTarget(key, index, count) {
  switch (key) {
    case 'ArrowRight':
    case 'ArrowDown':
      return (index + 1) % count;
    case 'ArrowLeft':
    case 'ArrowUp':
      return (index - 1 + count) % count;
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}

/** Marks `selected` (one of the buttons) as the chosen tab; every tab stays in the Tab order. */
export function markSelected(buttons, selected) {
  for (const b of buttons) {
    b.setAttribute('aria-selected', String(b === selected));
    b.tabIndex = 0;
  }
}

/**
 * `tabs`: [[button, value]]. `select(value, how)` is called with how =
 * 'click' or 'key'; after a key the focus is on the new tab.
 */
export function bindTabs(tabs, select) {
  tabs.forEach(([button, value], i) => {
    button.addEventListener('click', () => select(value, 'click'));
    button.addEventListener('keydown', (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const to = tabKeyTarget(ev.key, i, tabs.length);
      if (to === null) return;
      ev.preventDefault();
      select(tabs[to][1], 'key');
      tabs[to][0].focus();
    });
  });
}
