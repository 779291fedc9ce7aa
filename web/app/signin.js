// signin.js - the sign-in page: an existing session (refresh cookie) goes straight on;
// otherwise the form signs in through the client and goes to the requested page.
import { cancelPasskeyRequest, conditionalAvailable, enabledOnServer, signInWithPasskey, supported } from './passkeys.js';
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

const passkey = document.getElementById('passkey');
const passkeyButton = document.getElementById('passkey-signin');
const passkeyStep = document.getElementById('passkey-step');
let mfaToken = null; // the second step of a password sign-in, when the server asks for it

/** A passkey sign-in (the button, the username field's autofill, or the second step). */
async function passkeySignIn(conditional) {
  try {
    await signInWithPasskey({ conditional, mfaToken });
    location.assign(next);
  } catch (err) {
    if (err.name === 'AbortError') return; // replaced by another request
    if (err.name === 'NotAllowedError') {
      if (!conditional) showError('The passkey request was cancelled or timed out.', null);
      return;
    }
    if (err.code === 'mfa_token_invalid') mfaToken = null;
    showError(err.status ? err.message : 'Passkey sign-in failed: ' + err.message, null);
  }
}

/** Offers the passkeys in the username field's autofill, where the browser can. */
async function offerConditional() {
  if (!mfaToken && (await conditionalAvailable())) passkeySignIn(true);
}

checking.hidden = false;
if (await restoreOrNull()) {
  location.replace(next);
} else {
  checking.hidden = true;
  username.focus();
  if (supported() && (await enabledOnServer())) {
    passkey.hidden = false;
    passkeyButton.addEventListener('click', () => {
      error.hidden = true;
      passkeySignIn(false);
    });
    offerConditional();
  }
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
  cancelPasskeyRequest();
  try {
    await client.login(username.value.trim(), password.value);
    location.assign(next);
  } catch (err) {
    password.value = '';
    if (err.code === 'mfa_required' && err.factors.some((f) => f.type === 'webauthn') && !passkey.hidden) {
      // the password was right: the second step with a passkey
      mfaToken = err.mfaToken;
      passkeyStep.hidden = false;
      passkeyButton.textContent = 'Confirm with your passkey';
      passkeyButton.focus();
    } else if (err.code === 'mfa_required') showError('This account asks for a second factor.', null);
    else if (err.status === 401) showError('Wrong username or password.', password);
    else if (err.status === 429) showError('Too many attempts. Wait a minute and try again.', password);
    else showError('Sign-in failed: ' + (err.message || 'network error'), null);
  } finally {
    submit.disabled = false;
    submit.textContent = 'Sign in';
  }
});
