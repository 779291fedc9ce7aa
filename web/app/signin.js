// signin.js - the sign-in page: an existing session (refresh cookie) goes straight on;
// otherwise the form signs in through the client and goes to the requested page. An app
// signing in through jwtd (next=/oauth/authorize?...) gets the OAuth browser session first;
// login=1 (prompt=login, max_age) always asks for the password. The "Sign in with ..." links
// come from GET /auth/oidc/providers (social sign-in); a social sign-in that failed comes
// back here with ?oidc_error=CODE. When the server asks for a second factor (mfa_required),
// a second form takes the authenticator app's code (or a recovery code); when the user's
// role requires one that is not set up yet (mfa_enrollment_required), the enrolment token is
// handed to the Security page. A passkey signs in without a password, or is the second
// step; a passkey that did not verify its user (no PIN or biometric) is one factor, so for
// such a role it leads to the same code form, or to the same enrolment. A social sign-in
// that needs the second step comes back here with it in the fragment.
import { cancelPasskeyRequest, conditionalAvailable, enabledOnServer, signInWithPasskey, supported } from './passkeys.js';
import { client, isAuthorizeReturn, restoreOrNull, safeNext, startOAuthSession } from './session.js';

const form = document.getElementById('signin');
const username = document.getElementById('username');
const password = document.getElementById('password');
const error = document.getElementById('error');
const submit = document.getElementById('submit');
const checking = document.getElementById('checking');
const params = new URLSearchParams(location.search);
const next = safeNext(params.get('next'));
// an app asked for a fresh sign-in (prompt=login, max_age): no session reuse
const forceLogin = params.get('login') === '1' && isAuthorizeReturn(next);

/** Goes to next; an app's authorization request first gets the OAuth browser session. */
async function proceed() {
  if (isAuthorizeReturn(next)) await startOAuthSession();
  location.replace(next);
}

function showError(text, field) {
  error.textContent = text;
  error.hidden = false;
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }
}

// why a social sign-in came back here (the callback's oidc_error codes)
const OIDC_ERRORS = {
  invalid_state: 'That sign-in link has expired or was already used. Try again.',
  provider_error: 'The provider did not sign you in.',
  exchange_failed: 'The provider refused the sign-in. Try again.',
  invalid_id_token: 'The provider\'s answer could not be verified.',
  provider_unavailable: 'The provider cannot be reached right now. Try again later.',
  signup_closed: 'No account is linked to that sign-in, and sign-up is closed.',
  account_exists: 'An account already uses that e-mail address: sign in with its password.',
  account_inactive: 'This account is disabled.',
};

async function showProviders() {
  let providers = [];
  try {
    const res = await fetch('/auth/oidc/providers', { credentials: 'same-origin' });
    if (res.ok) ({ providers } = await res.json());
  } catch {
    return; // no social sign-in on this server
  }
  const list = document.getElementById('providers');
  for (const p of providers) {
    const a = document.createElement('a');
    a.className = 'button social';
    a.href = p.start + '?next=' + encodeURIComponent(next);
    a.textContent = 'Sign in with ' + p.name.charAt(0).toUpperCase() + p.name.slice(1);
    a.dataset.provider = p.name;
    const li = document.createElement('li');
    li.append(a);
    list.append(li);
  }
  document.getElementById('social').hidden = providers.length === 0;
}

const oidcError = new URLSearchParams(location.search).get('oidc_error');
if (oidcError) showError(OIDC_ERRORS[oidcError] || 'Sign-in failed.', null);
showProviders();

const passkey = document.getElementById('passkey');
const passkeyButton = document.getElementById('passkey-signin');
const passkeyStep = document.getElementById('passkey-step');
let passkeyMfaToken = null; // the second step of a password sign-in, when the server asks for it

/** A passkey sign-in (the button, the username field's autofill, or the second step). */
async function passkeySignIn(conditional) {
  try {
    await signInWithPasskey({ conditional, mfaToken: passkeyMfaToken });
    await proceed();
  } catch (err) {
    if (err.name === 'AbortError') return; // replaced by another request
    if (err.name === 'NotAllowedError') {
      if (!conditional) showError('The passkey request was cancelled or timed out.', null);
      return;
    }
    if (err.code === 'mfa_required' && !passkeyMfaToken) {
      // a passkey without user verification: the code form (another passkey is no second
      // factor, so the server offers only the app's codes and the recovery codes)
      askForCode(err.body.mfa_token);
      return;
    }
    if (err.code === 'mfa_enrollment_required') {
      enrollFirst(err.body.enroll_token);
      return;
    }
    if (err.code === 'mfa_token_invalid') passkeyMfaToken = null;
    showError(err.status ? err.message : 'Passkey sign-in failed: ' + err.message, null);
  }
}

/** Offers the passkeys in the username field's autofill, where the browser can. */
async function offerConditional() {
  if (!passkeyMfaToken && (await conditionalAvailable())) passkeySignIn(true);
}

checking.hidden = false;
if (!forceLogin && (await restoreOrNull())) {
  await proceed();
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
  if (e.detail && e.detail.fromOtherTab && !forceLogin) proceed();
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
    await proceed();
  } catch (err) {
    password.value = '';
    if (err.code === 'email_not_verified') {
      showError('Confirm your e-mail address first: open the link we sent you.', null);
      return;
    }
    if (err.code === 'mfa_required') {
      // the password was right: the second step
      askSecondStep(err.body.mfa_token, (err.factors || []).map((f) => f.type));
    } else if (err.code === 'mfa_enrollment_required') {
      enrollFirst(err.body.enroll_token);
    } else if (err.status === 401) showError('Wrong username or password.', password);
    else if (err.status === 429) showError('Too many attempts. Wait a minute and try again.', password);
    else showError('Sign-in failed: ' + (err.message || 'network error'), null);
  } finally {
    submit.disabled = false;
    submit.textContent = 'Sign in';
  }
});

// ---- the second step -------------------------------------------------------------------------

/** The second step of a sign-in: a passkey (when the user has one) or the code form. */
function askSecondStep(token, types) {
  if (types.includes('webauthn') && !passkey.hidden) {
    passkeyMfaToken = token;
    passkeyStep.hidden = false;
    passkeyButton.textContent = 'Confirm with your passkey';
  }
  if (types.some((t) => t !== 'webauthn')) askForCode(token);
  else passkeyButton.focus();
}

/** The user's role requires a second factor that is not set up yet: the Security page. */
function enrollFirst(token) {
  sessionStorage.setItem('jwtd-enroll-token', token);
  location.assign('/app/security.html?enroll=1');
}

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
    await proceed(); // (an app signing in through jwtd gets its OAuth session first)
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

// A social sign-in of a user with a second factor comes back here with the step in the
// fragment (never sent to a server): #mfa_token=...&factors=totp,webauthn, or
// #enroll_token=... when the user's role requires a factor not set up yet.
const step = new URLSearchParams(location.hash.slice(1));
if (step.get('mfa_token') || step.get('enroll_token')) {
  history.replaceState(null, '', location.pathname + location.search); // out of the history
  if (step.get('enroll_token')) enrollFirst(step.get('enroll_token'));
  else askSecondStep(step.get('mfa_token'), (step.get('factors') || 'totp').split(','));
}
