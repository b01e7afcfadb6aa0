// Unit tests for the account dialog's pure helpers (web/account-view.js): what the change-password
// form says before asking the server, and where the server's 422 field errors go.
// Run: node --test tests/web/

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { checkPasswordForm, passwordProblemFields, tooManyAttempts } from '../../web/account-view.js';

describe('checkPasswordForm', () => {
  it('accepts three filled boxes whose new passwords agree (length is the server\'s rule)', () => {
    assert.deepEqual(checkPasswordForm({ current: 'old one', next: 'short', confirm: 'short' }), {});
  });

  it('names every empty box', () => {
    assert.deepEqual(Object.keys(checkPasswordForm({ current: '', next: '', confirm: '' })), ['current', 'new', 'confirm']);
  });

  it('refuses a repeat that differs, and only then', () => {
    assert.deepEqual(checkPasswordForm({ current: 'a', next: 'new password', confirm: 'new passwort' }),
      { confirm: 'The two new passwords differ.' });
    // An empty new password is reported on its own box, not as a mismatch.
    assert.deepEqual(checkPasswordForm({ current: 'a', next: '', confirm: 'x' }), { new: 'Choose a new password.' });
  });
});

describe('passwordProblemFields', () => {
  it('puts the server\'s field errors next to the form\'s boxes', () => {
    assert.deepEqual(passwordProblemFields({ current_password: 'does not match' }), {
      fields: { current: 'That is not your current password.' }, placed: true,
    });
    assert.deepEqual(passwordProblemFields({ new_password: 'must be 8-128 characters' }), {
      fields: { new: 'Must be 8-128 characters.' }, placed: true,
    });
    assert.deepEqual(passwordProblemFields({ current_password: 'required', new_password: 'required' }), {
      fields: { current: 'Enter your current password.', new: 'Choose a new password.' }, placed: true,
    });
  });

  it('says when nothing could be placed, so the form shows the problem itself', () => {
    assert.deepEqual(passwordProblemFields({ something_else: 'odd' }), { fields: {}, placed: false });
    assert.deepEqual(passwordProblemFields(undefined), { fields: {}, placed: false });
  });
});

describe('tooManyAttempts', () => {
  it('says how long to wait, in seconds or whole minutes', () => {
    assert.equal(tooManyAttempts(1), 'Too many password attempts. Try again in 1 s.');
    assert.equal(tooManyAttempts(900), 'Too many password attempts. Try again in 15 min.');
    assert.equal(tooManyAttempts(61), 'Too many password attempts. Try again in 2 min.');
    assert.equal(tooManyAttempts(null), 'Too many password attempts. Try again later.');
  });
});
