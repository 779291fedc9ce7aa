// code-signin.js - sign-in by e-mail: the address gets a 6-digit code and a link
// (POST /auth/otp); the code typed here, or the link that opened this page, signs in
// (POST /auth/otp/verify with set_cookie, so the session lives in the refresh cookie as
// after a password sign-in).
import { client } from './session.js';
import { busy, clearInvalid, errorText, linkToken, post, say } from './account.js';

const ask = document.getElementById('ask');
const enter = document.getElementById('enter');
const email = document.getElementById('email');
const code = document.getElementById('code');
const status = document.getElementById('status');
const error = document.getElementById('error');
const token = linkToken();

async function finish(r) {
  if (r.status === 200) {
    await client.restore();
    location.assign('/app/dashboard.html');
    return true;
  }
  return false;
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

document.getElementById('restart').addEventListener('click', () => {
  enter.hidden = true;
  ask.hidden = false;
  status.textContent = '';
  say(error, '');
  email.focus();
});
