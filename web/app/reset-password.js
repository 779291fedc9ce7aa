// reset-password.js - the landing page of a reset link: a new password for the link's
// account (POST /auth/password/reset). Every device of the account is signed out.
import { busy, clearInvalid, errorText, linkToken, post, say } from './account.js';

const form = document.getElementById('form');
const password = document.getElementById('password');
const confirm = document.getElementById('confirm');
const error = document.getElementById('error');
const done = document.getElementById('done');
const submit = document.getElementById('submit');
const again = document.getElementById('again');
const token = linkToken();

if (!token) {
  form.hidden = true;
  say(error, 'This page needs the link from your e-mail. Open the link again, or ask for a new one.');
  again.hidden = false;
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  clearInvalid(password, confirm);
  if (!password.value) return say(error, 'Choose a new password.', password);
  if (password.value !== confirm.value) return say(error, 'The two passwords are different.', confirm);
  busy(submit, 'Saving…', async () => {
    const r = await post('/auth/password/reset', { token, password: password.value });
    if (r.status === 200) {
      form.hidden = true;
      done.innerHTML = '';
      const p = document.createElement('p');
      p.textContent = 'Your password is changed, and every device was signed out. ';
      const a = document.createElement('a');
      a.href = '/app/';
      a.textContent = 'Sign in with your new password';
      p.append(a);
      done.append(p);
      done.hidden = false;
      return;
    }
    if (r.data.code === 'invalid_link') {
      form.hidden = true;
      again.hidden = false;
      return say(error, errorText(r));
    }
    say(error, errorText(r, ['password']), password);
  });
});
