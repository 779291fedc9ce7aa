// signup.js - the sign-up page: POST /auth/register, then straight in when no confirmation
// is needed, or to "check your e-mail" when the server waits for the address's link.
import { client } from './session.js';
import { busy, clearInvalid, errorText, post, say } from './account.js';

const form = document.getElementById('form');
const username = document.getElementById('username');
const email = document.getElementById('email');
const password = document.getElementById('password');
const error = document.getElementById('error');
const submit = document.getElementById('submit');

form.addEventListener('submit', (e) => {
  e.preventDefault();
  say(error, '');
  clearInvalid(username, email, password);
  if (!username.value.trim()) return say(error, 'Choose a username.', username);
  if (!email.value.trim() || !email.validity.valid) return say(error, 'Enter a valid e-mail address.', email);
  if (!password.value) return say(error, 'Choose a password.', password);
  busy(submit, 'Creating your account…', async () => {
    const r = await post('/auth/register', {
      username: username.value.trim(), email: email.value.trim(), password: password.value,
    });
    if (r.status === 403) return say(error, 'Sign-up is closed on this site. Ask an administrator for an account.');
    if (r.status !== 201) {
      const field = r.data.username ? username : r.data.email ? email : r.data.password ? password : null;
      return say(error, errorText(r, ['username', 'email', 'password']), field);
    }
    try {
      await client.login(username.value.trim(), password.value);
      location.assign('/app/dashboard.html');
    } catch (err) {
      const addr = encodeURIComponent(email.value.trim());
      if (err.code === 'email_not_verified') location.assign('/app/check-email.html?email=' + addr);
      else location.assign('/app/');
    }
  });
});
