// signin.js - the sign-in page: an existing session (refresh cookie) goes straight on;
// otherwise the form signs in through the client and goes to the requested page. When the
// server asks for a second factor (mfa_required), a second form takes the authenticator
// app's code (or a recovery code); when the user's role requires one that is not set up yet
// (mfa_enrollment_required), the enrolment token is handed to the Security page.
import { client, restoreOrNull, safeNext } from './session.js';

const form = document.getElementById('signin');
const username = document.getElementById('username');
const password = document.getElementById('password');
const error = document.getElementById('error');
const submit = document.getElementById('submit');
const checking = document.getElementById('checking');
const next = safeNext(new URLSearchParams(location.search).get('next'));

function showError(text, field) {
  error.textContent = text;
  error.hidden = false;
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }
}

checking.hidden = false;
if (await restoreOrNull()) {
  location.replace(next);
} else {
  checking.hidden = true;
  username.focus();
}

// signed in from another tab: follow it
client.addEventListener('login', (e) => {
  if (e.detail && e.detail.fromOtherTab) location.replace(next);
});

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.hidden = true;
  username.removeAttribute('aria-invalid');
  password.removeAttribute('aria-invalid');
  if (!username.value.trim()) return showError('Enter your username.', username);
  if (!password.value) return showError('Enter your password.', password);
  submit.disabled = true;
  submit.textContent = 'Signing in…';
  try {
    await client.login(username.value.trim(), password.value);
    location.assign(next);
  } catch (err) {
    password.value = '';
    if (err.code === 'mfa_required') askForCode(err.body.mfa_token);
    else if (err.code === 'mfa_enrollment_required') {
      sessionStorage.setItem('jwtd-enroll-token', err.body.enroll_token);
      location.assign('/app/security.html?enroll=1');
    } else if (err.status === 401) showError('Wrong username or password.', password);
    else if (err.status === 429) showError('Too many attempts. Wait a minute and try again.', password);
    else showError('Sign-in failed: ' + (err.message || 'network error'), null);
  } finally {
    submit.disabled = false;
    submit.textContent = 'Sign in';
  }
});

// ---- the second step -------------------------------------------------------------------------

const mfaForm = document.getElementById('mfa');
const code = document.getElementById('code');
const mfaError = document.getElementById('mfa-error');
const verify = document.getElementById('verify');
let mfaToken = null;

function askForCode(token) {
  mfaToken = token;
  form.hidden = true;
  mfaForm.hidden = false;
  code.value = '';
  code.focus();
}

function showMfaError(text) {
  mfaError.textContent = text;
  mfaError.hidden = false;
  code.setAttribute('aria-invalid', 'true');
  code.focus();
}

document.getElementById('mfa-cancel').addEventListener('click', () => {
  mfaToken = null;
  mfaForm.hidden = true;
  form.hidden = false;
  password.focus();
});

mfaForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  mfaError.hidden = true;
  code.removeAttribute('aria-invalid');
  if (!code.value.trim()) return showMfaError('Enter the code.');
  verify.disabled = true;
  verify.textContent = 'Verifying…';
  try {
    await client.verifyMfa(mfaToken, code.value.trim());
    location.assign(next);
  } catch (err) {
    code.value = '';
    if (err.code === 'invalid_code') showMfaError('That code is not valid. Try the next one.');
    else if (err.code === 'mfa_token_invalid') showMfaError('This sign-in has expired. Start over.');
    else if (err.status === 429) showMfaError('Too many wrong codes. Wait a few minutes and start over.');
    else showMfaError('Verification failed: ' + (err.message || 'network error'));
  } finally {
    verify.disabled = false;
    verify.textContent = 'Verify';
  }
});
