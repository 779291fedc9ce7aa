// signin.js - the sign-in page: an existing session (refresh cookie) goes straight on;
// otherwise the form signs in through the client and goes to the requested page.
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
    if (err.code === 'email_not_verified') {
      showError('Confirm your e-mail address first: open the link we sent you.', null);
      return;
    }
    if (err.status === 401) showError('Wrong username or password.', password);
    else if (err.status === 429) showError('Too many attempts. Wait a minute and try again.', password);
    else showError('Sign-in failed: ' + (err.message || 'network error'), null);
  } finally {
    submit.disabled = false;
    submit.textContent = 'Sign in';
  }
});
