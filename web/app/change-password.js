// change-password.js - a signed-in user's new password (POST /auth/password/change); this
// device stays signed in, the others are signed out, and a notice goes to the address.
import { restoreOrNull } from './session.js';
import { busy, clearInvalid, errorText, post, say } from './account.js';

if (!(await restoreOrNull())) location.replace('/app/?next=' + encodeURIComponent(location.pathname));

const form = document.getElementById('form');
const current = document.getElementById('current');
const password = document.getElementById('password');
const confirm = document.getElementById('confirm');
const error = document.getElementById('error');
const done = document.getElementById('done');
const submit = document.getElementById('submit');

form.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  clearInvalid(current, password, confirm);
  if (!current.value) return say(error, 'Enter your current password.', current);
  if (!password.value) return say(error, 'Choose a new password.', password);
  if (password.value !== confirm.value) return say(error, 'The two new passwords are different.', confirm);
  busy(submit, 'Saving…', async () => {
    const r = await post('/auth/password/change',
      { current_password: current.value, new_password: password.value }, { auth: true });
    if (r.status === 200) {
      form.reset();
      form.hidden = true;
      return say(done, 'Your password is changed. Your other devices were signed out.');
    }
    if (r.status === 401) return location.replace('/app/?next=' + encodeURIComponent(location.pathname));
    if (r.data.current_password) return say(error, 'Your current password is not correct.', current);
    say(error, errorText(r, ['new_password']), password);
  });
});
