// forgot-password.js - asks for a reset link (POST /auth/password/forgot, which answers the
// same whether or not the address has an account).
import { busy, clearInvalid, errorText, post, say } from './account.js';

const form = document.getElementById('form');
const email = document.getElementById('email');
const error = document.getElementById('error');
const done = document.getElementById('done');
const submit = document.getElementById('submit');

form.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  clearInvalid(email);
  if (!email.value.trim() || !email.validity.valid) return say(error, 'Enter a valid e-mail address.', email);
  busy(submit, 'Sending…', async () => {
    const r = await post('/auth/password/forgot', { email: email.value.trim() });
    if (r.status !== 202) return say(error, errorText(r, ['email']), email);
    form.hidden = true;
    say(done, `If an account uses ${email.value.trim()}, we sent it a link to choose a new password. The link works once.`);
  });
});
