// The app's chrome: the Rooms/Direct tabs, the phone drawer and the presence
// panel, and which of them is showing at the current screen width.
//
// Owns only that visual state. Must not know about conversations, messages or
// the server: the controller hears about tab changes through `onTabChange`.

import { bindTabs, markSelected } from './tabs.js';
import { $, show } from './util.js';

export class Layout {
  /** @param {{onTabChange?: (tab: 'rooms'|'dms') => void}} hooks */
  constructor({ onTabChange } = {}) {
    this.tab = 'rooms';
    this.onTabChange = onTabChange || (() => {});
    // The presence panel is docked on wide screens and a pop-over below that.
    this.wide = window.matchMedia('(min-width: 1100px)');
    this.narrow = window.matchMedia('(max-width: 767px)');
    this.bind();
  }

  /** Phone width: the sidebar is a drawer and focusing the message box would pop the keyboard. */
  get isNarrow() {
    return this.narrow.matches;
  }

  bind() {
    bindTabs([[$('tab-rooms'), 'rooms'], [$('tab-dms'), 'dms']], (which) => this.setTab(which));
    $('nav-toggle').addEventListener('click', () => this.openDrawer());
    $('nav-close').addEventListener('click', () => this.closeDrawer());
    $('drawer-backdrop').addEventListener('click', () => this.closeDrawer());
    document.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Escape') return;
      if ($('app-screen').classList.contains('drawer-open')) this.closeDrawer();
      else if ($('app-screen').classList.contains('presence-shown')) this.togglePresence();
    });
    $('presence-toggle').addEventListener('click', () => this.togglePresence());
    this.wide.addEventListener('change', () => {
      $('app-screen').classList.remove('presence-shown');
      $('presence-toggle').setAttribute('aria-expanded', String(this.presenceVisible()));
    });
  }

  setTab(which) {
    this.tab = which;
    const rooms = which === 'rooms';
    markSelected([$('tab-rooms'), $('tab-dms')], $(rooms ? 'tab-rooms' : 'tab-dms'));
    show($('rooms-panel'), rooms);
    show($('dms-panel'), !rooms);
    this.onTabChange(which);
  }

  openDrawer() {
    $('app-screen').classList.add('drawer-open');
    show($('drawer-backdrop'), true);
    $('nav-toggle').setAttribute('aria-expanded', 'true');
    const active = $('sidebar').querySelector('.conv-item.active') || $('sidebar').querySelector('.conv-item, button');
    if (active) active.focus();
  }

  closeDrawer(returnFocus = true) {
    const wasOpen = $('app-screen').classList.contains('drawer-open');
    $('app-screen').classList.remove('drawer-open');
    show($('drawer-backdrop'), false);
    $('nav-toggle').setAttribute('aria-expanded', 'false');
    if (wasOpen && returnFocus) $('nav-toggle').focus();
  }

  presenceVisible() {
    const app = $('app-screen');
    return this.wide.matches ? !app.classList.contains('presence-hidden') : app.classList.contains('presence-shown');
  }

  togglePresence() {
    const app = $('app-screen');
    if (this.wide.matches) app.classList.toggle('presence-hidden');
    else app.classList.toggle('presence-shown');
    $('presence-toggle').setAttribute('aria-expanded', String(this.presenceVisible()));
  }
}
