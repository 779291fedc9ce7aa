// verify-email.js - the landing page of a confirmation link (sign-up or e-mail change):
// POST /auth/email/verify with the link's token.
import { errorText, linkToken, post } from './account.js';

const status = document.getElementById('status');
const error = document.getElementById('error');
const token = linkToken();

if (!token) {
  status.hidden = true;
  error.textContent = 'This page needs the link from your e-mail. Open the link again, or ask for a new one.';
  error.hidden = false;
  document.getElementById('again').hidden = false;
} else {
  const r = await post('/auth/email/verify', { token });
  if (r.status === 200) {
    status.textContent = `Your e-mail address ${r.data.email || ''} is confirmed. Thank you!`;
    document.getElementById('title').textContent = 'E-mail address confirmed';
    document.getElementById('next').hidden = false;
  } else {
    status.hidden = true;
    error.textContent = errorText(r);
    error.hidden = false;
    document.getElementById('again').hidden = false;
  }
}
document.getElementById('title').focus();
