// code-signin.js - sign-in by e-mail: the address gets a 6-digit code and a link
// (POST /auth/otp); the code typed here, or the link that opened this page, signs in
// (POST /auth/otp/verify with set_cookie, so the session lives in the refresh cookie as
// after a password sign-in). When the account has a second factor the server answers
// mfa_required, and the page asks for it as the password sign-in page does: the
// authenticator app's code or a recovery code (POST /auth/mfa/verify), or a passkey;
// mfa_enrollment_required hands the enrolment token to the Security page.
import { client } from './session.js';
import { busy, clearInvalid, errorText, linkToken, post, say } from './account.js';
import { enabledOnServer, signInWithPasskey, supported } from './passkeys.js';

const ask = document.getElementById('ask');
const enter = document.getElementById('enter');
const email = document.getElementById('email');
const code = document.getElementById('code');
const status = document.getElementById('status');
const error = document.getElementById('error');
const token = linkToken();

const mfa = document.getElementById('mfa');
const mfaCode = document.getElementById('mfa-code');
const passkeyButton = document.getElementById('passkey-signin');
let mfaToken = null; // the second step's token (the answer mfa_required)

/** Signed in (200), or on to the second step: true; false when r is a failure to show. */
async function finish(r) {
  if (r.status === 200) {
    await client.restore();
    location.assign('/app/dashboard.html');
    return true;
  }
  if (r.status === 401 && r.data.code === 'mfa_required') {
    await askForSecondFactor(r.data.mfa_token, r.data.factors || []);
    return true;
  }
  if (r.status === 403 && r.data.code === 'mfa_enrollment_required') {
    sessionStorage.setItem('jwtd-enroll-token', r.data.enroll_token);
    location.assign('/app/security.html?enroll=1');
    return true;
  }
  return false;
}

/** The second step: the code form, and the passkey button when the account has one. */
async function askForSecondFactor(token, factors) {
  mfaToken = token;
  ask.hidden = true;
  enter.hidden = true;
  mfa.hidden = false;
  status.textContent = '';
  say(error, '');
  mfaCode.value = '';
  const codes = factors.some((f) => f.type !== 'webauthn');
  mfaCode.closest('.field').hidden = !codes;
  document.getElementById('mfa-verify').hidden = !codes;
  passkeyButton.hidden = !(factors.some((f) => f.type === 'webauthn') && supported() && (await enabledOnServer()));
  if (codes) mfaCode.focus();
  else if (!passkeyButton.hidden) passkeyButton.focus();
  else say(error, 'This account needs a second factor that this browser cannot use.');
}

if (token) {
  ask.hidden = true;
  status.textContent = 'Signing you in…';
  const r = await post('/auth/otp/verify', { token, set_cookie: true });
  if (!(await finish(r))) {
    status.textContent = '';
    ask.hidden = false;
    say(error, errorText(r));
  }
}

ask.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  clearInvalid(email);
  if (!email.value.trim() || !email.validity.valid) return say(error, 'Enter a valid e-mail address.', email);
  busy(document.getElementById('send'), 'Sending…', async () => {
    const r = await post('/auth/otp', { email: email.value.trim() });
    if (r.status !== 202) return say(error, errorText(r, ['email']), email);
    ask.hidden = true;
    enter.hidden = false;
    status.textContent = `If an account uses ${email.value.trim()}, we sent it a 6-digit code. It works for 10 minutes.`;
    code.focus();
  });
});

enter.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  clearInvalid(code);
  if (!/^[0-9]{6}$/.test(code.value.trim())) return say(error, 'Enter the 6 digits of the code.', code);
  busy(document.getElementById('verify'), 'Signing in…', async () => {
    const r = await post('/auth/otp/verify',
      { email: email.value.trim(), code: code.value.trim(), set_cookie: true });
    if (!(await finish(r))) {
      code.value = '';
      say(error, r.data.code === 'invalid_link'
        ? 'This code is wrong or has expired. Check the e-mail, or ask for a new code.'
        : errorText(r), code);
    }
  });
});

mfa.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  clearInvalid(mfaCode);
  if (!mfaCode.value.trim()) return say(error, 'Enter the code.', mfaCode);
  busy(document.getElementById('mfa-verify'), 'Verifying…', async () => {
    try {
      await client.verifyMfa(mfaToken, mfaCode.value.trim());
      location.assign('/app/dashboard.html');
    } catch (err) {
      mfaCode.value = '';
      if (err.code === 'invalid_code') say(error, 'That code is not valid. Try the next one.', mfaCode);
      else if (err.code === 'mfa_token_invalid') say(error, 'This sign-in has expired. Start over.', mfaCode);
      else if (err.status === 429) say(error, 'Too many wrong codes. Wait a few minutes and start over.', mfaCode);
      else say(error, 'Verification failed: ' + (err.message || 'network error'), mfaCode);
    }
  });
});

passkeyButton.addEventListener('click', async () => {
  say(error, '');
  try {
    await signInWithPasskey({ mfaToken });
    location.assign('/app/dashboard.html');
  } catch (err) {
    if (err.name === 'NotAllowedError') return say(error, 'The passkey request was cancelled or timed out.');
    if (err.code === 'mfa_token_invalid') return say(error, 'This sign-in has expired. Start over.');
    say(error, err.status ? err.message : 'Passkey sign-in failed: ' + err.message);
  }
});

document.getElementById('mfa-cancel').addEventListener('click', () => {
  mfaToken = null;
  mfa.hidden = true;
  enter.hidden = true;
  ask.hidden = false;
  say(error, '');
  email.focus();
});

document.getElementById('restart').addEventListener('click', () => {
  enter.hidden = true;
  ask.hidden = false;
  status.textContent = '';
  say(error, '');
  email.focus();
});
