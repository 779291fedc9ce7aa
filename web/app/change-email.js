// change-email.js - a signed-in user's new e-mail address (POST /auth/email/change): a
// confirmation link goes to the new address, and the change applies when it is opened.
import { client, restoreOrNull } from './session.js';
import { busy, clearInvalid, errorText, post, say } from './account.js';

if (!(await restoreOrNull())) location.replace('/app/?next=' + encodeURIComponent(location.pathname));
if (client.user && client.user.email) {
  document.getElementById('current').textContent = `Your current address is ${client.user.email}.`;
}

const form = document.getElementById('form');
const email = document.getElementById('email');
const password = document.getElementById('password');
const error = document.getElementById('error');
const done = document.getElementById('done');
const submit = document.getElementById('submit');

form.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  clearInvalid(email, password);
  if (!email.value.trim() || !email.validity.valid) return say(error, 'Enter a valid e-mail address.', email);
  if (!password.value) return say(error, 'Enter your password to confirm.', password);
  busy(submit, 'Sending…', async () => {
    const r = await post('/auth/email/change',
      { new_email: email.value.trim(), password: password.value }, { auth: true });
    if (r.status === 202) {
      form.hidden = true;
      return say(done, `We sent a confirmation link to ${email.value.trim()}. Your address changes when you open it.`);
    }
    if (r.status === 401) return location.replace('/app/?next=' + encodeURIComponent(location.pathname));
    if (r.data.password) return say(error, 'Your password is not correct.', password);
    say(error, errorText(r, ['new_email']), email);
  });
});
