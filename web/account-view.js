// The account dialog, opened from the sidebar's account button: change the
// password (POST /v1/auth/password) and log out everywhere
// (DELETE /v1/auth/sessions, confirmed first).
//
// Owns that dialog only: its forms, their errors and the confirm step. Must
// not end the session itself or touch the socket: logging out everywhere is
// handed to `onLogOutEverywhere` (the entry module stops the chat and shows
// the sign-in screen, as for a normal sign-out). Tokens are the Session's
// business (api.js). The pure helpers at the top touch no DOM, so
// tests/web/account.test.mjs runs them under node.

import { toast } from './render.js';
import { $, show, withBusy, describeFieldError } from './util.js';

/** The form's fields, in the order the focus looks for the first bad one. */
export const PASSWORD_FIELDS = ['current', 'new', 'confirm'];
/** The server's field names (problem details `errors`) → the form's. */
const SERVER_FIELD = { current_password: 'current', new_password: 'new' };

/**
 * What can be said before asking the server: empty boxes and a repeat that
 * differs. The length rule is the server's (its words are shown as they come).
 * @returns {Record<string, string>} form field → message; empty when all is well
 */
export function checkPasswordForm({ current, next, confirm }) {
  const errors = {};
  if (!current) errors.current = 'Enter your current password.';
  if (!next) errors.new = 'Choose a new password.';
  if (!confirm) errors.confirm = 'Repeat the new password.';
  else if (next && confirm !== next) errors.confirm = 'The two new passwords differ.';
  return errors;
}

/**
 * A 422's `errors` as messages for the form's fields. `placed` is false when
 * none of them names a field of the form (the caller then shows the problem's
 * own words for the whole form).
 * @param {Record<string, string>} errors the problem's `errors`
 * @returns {{fields: Record<string, string>, placed: boolean}}
 */
export function passwordProblemFields(errors) {
  const fields = {};
  for (const [name, value] of Object.entries(errors || {})) {
    const field = SERVER_FIELD[name];
    if (!field) continue;
    const v = String(value);
    if (field === 'current' && v === 'does not match') fields.current = 'That is not your current password.';
    else if (field === 'current' && v === 'required') fields.current = 'Enter your current password.';
    else if (field === 'new' && v === 'required') fields.new = 'Choose a new password.';
    else fields[field] = describeFieldError('password', v);
  }
  return { fields, placed: Object.keys(fields).length > 0 };
}

function setFieldError(field, message) {
  const p = $(`password-${field}-error`);
  p.textContent = message || '';
  show(p, !!message);
  $(`password-${field}`).setAttribute('aria-invalid', message ? 'true' : 'false');
}

function setLine(id, message) {
  const p = $(id);
  p.textContent = message || '';
  show(p, !!message);
}

export class AccountView {
  /**
   * @param {import('./api.js').Session} session asks the server
   * @param {{onLogOutEverywhere: () => Promise<void>}} hooks ends every session
   *   and shows the sign-in screen; rejects (with an ApiError) when the server
   *   did not end them, and the dialog then says why
   */
  constructor(session, { onLogOutEverywhere }) {
    this.session = session;
    this.onLogOutEverywhere = onLogOutEverywhere;
    this.dialog = $('account-dialog');
    this.button = $('account-button');
    this.bind();
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Opens the dialog with empty forms; the focus goes to the current password. */
  open() {
    if (this.isOpen || !this.session.username) return;
    $('account-username').textContent = this.session.username;
    // defaultValue: a form reset (after a change) keeps it.
    $('password-username').defaultValue = this.session.username;
    this.reset();
    this.dialog.showModal();
    this.button.setAttribute('aria-expanded', 'true');
    $('password-current').focus();
  }

  /** Closes the dialog (also when the session ends under it) and forgets what was typed. */
  close() {
    if (this.isOpen) {
      this.dialog.close(); // its 'close' event runs closed()
      return;
    }
    this.button.setAttribute('aria-expanded', 'false');
    this.reset();
  }

  /** The dialog closed, by whatever means (Close, Escape, close()). */
  closed() {
    this.button.setAttribute('aria-expanded', 'false');
    this.reset();
    // Back to the button that opened it, when it is still on screen.
    if (!$('app-screen').hidden && this.button.offsetParent !== null) this.button.focus({ preventScroll: true });
  }

  reset() {
    $('password-form').reset();
    for (const f of PASSWORD_FIELDS) setFieldError(f, '');
    setLine('password-error', '');
    setLine('password-done', '');
    setLine('everywhere-error', '');
    this.setConfirming(false, false);
  }

  bind() {
    this.button.addEventListener('click', () => this.open());
    $('account-close').addEventListener('click', () => this.close());
    this.dialog.addEventListener('close', () => this.closed());
    // Escape closes the dialog (the browser does that); it must not also close the drawer
    // or the presence panel behind it (layout.js listens on the document).
    this.dialog.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') ev.stopPropagation();
    });
    // A click on the backdrop (outside the dialog's box) closes it too.
    this.dialog.addEventListener('click', (ev) => {
      if (ev.target !== this.dialog) return;
      const r = this.dialog.getBoundingClientRect();
      const inside = ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top && ev.clientY <= r.bottom;
      if (!inside) this.close();
    });
    $('password-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitPassword(ev.currentTarget);
    });
    $('everywhere-start').addEventListener('click', () => this.setConfirming(true));
    $('everywhere-cancel').addEventListener('click', () => this.setConfirming(false));
    $('everywhere-submit').addEventListener('click', () => this.logOutEverywhere());
  }

  /** Shows or hides the "this one included?" step of Log out everywhere. */
  setConfirming(on, moveFocus = true) {
    show($('everywhere-confirm'), on);
    show($('everywhere-start'), !on);
    $('everywhere-start').setAttribute('aria-expanded', String(on));
    if (!moveFocus) return;
    if (on) {
      setLine('everywhere-error', '');
      $('everywhere-cancel').focus();
    } else {
      $('everywhere-start').focus();
    }
  }

  submitPassword(form) {
    const values = {
      current: $('password-current').value,
      next: $('password-new').value,
      confirm: $('password-confirm').value,
    };
    for (const f of PASSWORD_FIELDS) setFieldError(f, '');
    setLine('password-error', '');
    setLine('password-done', '');
    const local = checkPasswordForm(values);
    if (Object.keys(local).length) {
      this.showFieldErrors(local);
      return;
    }
    withBusy(form, async () => {
      try {
        await this.session.request('POST', '/v1/auth/password', {
          current_password: values.current,
          new_password: values.next,
        });
      } catch (err) {
        if (!this.isOpen) return; // the session ended meanwhile
        const { fields, placed } = err.status === 422 ? passwordProblemFields(err.errors) : { fields: {}, placed: false };
        if (placed) this.showFieldErrors(fields);
        else setLine('password-error', err.status === 429 ? tooManyAttempts(err.retryAfter) : err.friendly);
        return;
      }
      const done = 'Your password was changed. Every other device was signed out; this one stays signed in.';
      if (!this.isOpen) {
        toast(done, { code: 'password', kind: 'info' }); // closed while the server worked
        return;
      }
      form.reset();
      setLine('password-done', done);
    });
  }

  showFieldErrors(errors) {
    for (const [f, message] of Object.entries(errors)) setFieldError(f, message);
    const first = PASSWORD_FIELDS.find((f) => errors[f]);
    if (first) $(`password-${first}`).focus();
  }

  async logOutEverywhere() {
    const button = $('everywhere-submit');
    button.disabled = true;
    $('everywhere-cancel').disabled = true;
    try {
      await this.onLogOutEverywhere();
    } catch (err) {
      if (!this.isOpen) return;
      setLine('everywhere-error', `Could not log out everywhere: ${err.friendly || err.message}`);
      this.setConfirming(false);
    } finally {
      button.disabled = false;
      $('everywhere-cancel').disabled = false;
    }
  }
}

/** A 429: password checks are throttled like logins (the budget is shared with them). */
export function tooManyAttempts(retryAfter) {
  const secs = Number(retryAfter);
  let wait = ' Try again later.';
  if (secs > 0 && secs < 60) wait = ` Try again in ${Math.ceil(secs)} s.`;
  else if (secs >= 60) wait = ` Try again in ${Math.ceil(secs / 60)} min.`;
  return `Too many password attempts.${wait}`;
}
