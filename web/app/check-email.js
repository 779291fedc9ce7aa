// check-email.js - "check your e-mail": tells where the link went and sends it again on
// request (POST /auth/email/resend, which answers the same for every address).
import { busy, clearInvalid, errorText, post, say } from './account.js';

const form = document.getElementById('form');
const email = document.getElementById('email');
const error = document.getElementById('error');
const done = document.getElementById('done');
const submit = document.getElementById('submit');
const given = new URLSearchParams(location.search).get('email') || '';
if (given) {
  email.value = given;
  document.getElementById('sent').textContent =
    `We sent a confirmation link to ${given}. Open it to finish creating your account.`;
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  say(done, '');
  clearInvalid(email);
  if (!email.value.trim() || !email.validity.valid) return say(error, 'Enter a valid e-mail address.', email);
  busy(submit, 'Sending…', async () => {
    const r = await post('/auth/email/resend', { email: email.value.trim() });
    if (r.status === 202) say(done, `If ${email.value.trim()} belongs to an account that still needs confirming, a new link is on its way.`);
    else say(error, errorText(r, ['email']), email);
  });
});
