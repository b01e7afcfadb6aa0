// The sign-in / create-account screen: its two forms, their tabs, and
// turning the server's problem details (401, 409, 422 with per-field
// `errors`) into messages next to the right field.
//
// Owns that screen only. Must not start the chat or touch the socket: on
// success it hands over through `onSignedIn`, and the entry module decides
// what comes next. Tokens are the Session's business (api.js).

import { ApiError, Session } from './api.js';
import { bindTabs, markSelected } from './tabs.js';
import { $, show, withBusy, describeFieldError } from './util.js';

const SIGNUP_FIELDS = ['username', 'email', 'password'];
const LOGIN_FIELDS = ['identifier', 'password'];

function setFieldError(prefix, field, message) {
  const p = $(`${prefix}-${field}-error`);
  const input = $(`${prefix}-${field}`);
  if (p) {
    p.textContent = message || '';
    show(p, !!message);
  }
  if (input) input.setAttribute('aria-invalid', message ? 'true' : 'false');
}

function clearFormErrors(prefix, fields) {
  for (const f of fields) setFieldError(prefix, f, '');
  show($(`${prefix}-error`), false);
}

function setFormError(prefix, message) {
  const p = $(`${prefix}-error`);
  p.textContent = message;
  show(p, !!message);
}

/**
 * Put a problem's per-field errors next to their fields; what cannot be
 * placed, or what concerns the whole form (409, 429, 5xx, offline), goes in
 * the form's own error line. Focus moves to the first bad field.
 */
function applyProblem(prefix, fields, err) {
  let placed = false;
  for (const [field, message] of Object.entries(err.errors || {})) {
    if (fields.includes(field)) {
      setFieldError(prefix, field, describeFieldError(field, message));
      placed = true;
    }
  }
  if (!placed || err.status === 409 || err.status >= 500 || err.status === 0 || err.status === 429) {
    let text = err.friendly;
    if (err.status === 409 && !placed) text = err.detail ? err.friendly : 'That account already exists.';
    if (err.status === 409 && placed) text = 'Choose another one and try again.';
    if (err.status === 422 && placed) text = '';
    if (text) setFormError(prefix, text);
  }
  const firstBad = fields.find((f) => $(`${prefix}-${f}`)?.getAttribute('aria-invalid') === 'true');
  if (firstBad) $(`${prefix}-${firstBad}`).focus();
}

export class AuthView {
  /**
   * @param {Session} session signs in / up
   * @param {{onSignedIn: () => void}} hooks
   */
  constructor(session, { onSignedIn }) {
    this.session = session;
    this.onSignedIn = onSignedIn;
    this.bind();
  }

  /** Show the screen (hiding the others), with an optional notice such as "You have signed out." */
  show(notice = '') {
    show($('splash'), false);
    show($('app-screen'), false);
    show($('auth-screen'), true);
    const n = $('auth-notice');
    n.textContent = notice;
    show(n, !!notice);
    const remembered = Session.storedUsername();
    if (remembered && !$('login-identifier').value) $('login-identifier').value = remembered;
    this.setTab('login');
    ($('login-identifier').value ? $('login-password') : $('login-identifier')).focus();
  }

  setTab(which) {
    const login = which === 'login';
    markSelected([$('auth-tab-login'), $('auth-tab-signup')], $(login ? 'auth-tab-login' : 'auth-tab-signup'));
    show($('login-form'), login);
    show($('signup-form'), !login);
  }

  bind() {
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitLogin(ev.currentTarget);
    });
    $('signup-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitSignup(ev.currentTarget);
    });
    bindTabs([[$('auth-tab-login'), 'login'], [$('auth-tab-signup'), 'signup']], (which, how) => {
      this.setTab(which);
      // A click goes on to the form's first box; arrow keys stay on the tabs.
      if (how === 'click') $(which === 'login' ? 'login-identifier' : 'signup-username').focus();
    });
  }

  submitLogin(form) {
    const identifier = $('login-identifier').value.trim();
    const password = $('login-password').value;
    clearFormErrors('login', LOGIN_FIELDS);
    let bad = false;
    if (!identifier) {
      setFieldError('login', 'identifier', 'Enter your email or username.');
      bad = true;
    }
    if (!password) {
      setFieldError('login', 'password', 'Enter your password.');
      bad = true;
    }
    if (bad) {
      (identifier ? $('login-password') : $('login-identifier')).focus();
      return;
    }
    withBusy(form, async () => {
      try {
        await this.session.login(identifier, password);
        $('login-password').value = '';
        this.onSignedIn();
      } catch (err) {
        if (err.status === 401) {
          setFormError('login', 'Wrong email/username or password.');
          $('login-password').select();
          $('login-password').focus();
        } else if (err.status === 422) {
          // The server names `email` or `username`; the form has one box for either.
          const errors = {};
          for (const [k, v] of Object.entries(err.errors || {})) {
            errors[k === 'password' ? 'password' : 'identifier'] = v;
          }
          applyProblem('login', LOGIN_FIELDS, new ApiError(422, { detail: err.detail, errors }));
        } else {
          setFormError('login', err.friendly || 'Sign in failed.');
        }
      }
    });
  }

  submitSignup(form) {
    clearFormErrors('signup', SIGNUP_FIELDS);
    const username = $('signup-username').value.trim();
    const email = $('signup-email').value.trim();
    const password = $('signup-password').value;
    // Quick local checks; the server has the final word.
    let bad = false;
    if (!username) { setFieldError('signup', 'username', 'Choose a username.'); bad = true; }
    if (!email) { setFieldError('signup', 'email', 'Enter your email.'); bad = true; }
    if (!password) { setFieldError('signup', 'password', 'Choose a password.'); bad = true; }
    if (bad) {
      $(`signup-${SIGNUP_FIELDS.find((f) => $(`signup-${f}`).getAttribute('aria-invalid') === 'true')}`).focus();
      return;
    }
    withBusy(form, async () => {
      try {
        await this.session.signup({ username, email, password });
        $('signup-password').value = '';
        this.onSignedIn();
      } catch (err) {
        applyProblem('signup', SIGNUP_FIELDS, err);
      }
    });
  }
}
