// security.js - the Security page: the user's second factors (type, added, last used,
// remove), setting up an authenticator app (QR code and the secret as text, activation with a
// first code) and the recovery codes, shown once with a download as text. Removing a factor
// needs a recent sign-in: the server answers reauthentication_required otherwise.
// Reached with an enrolment token (a role that requires a second factor, ?enroll=1 from the
// sign-in page) it only sets up the app, then sends the user back to sign in.
import { client, restoreOrNull } from './session.js';

const $ = (id) => document.getElementById(id);
const toSignIn = () => location.replace('/app/?next=' + encodeURIComponent(location.pathname));

const enrollToken = sessionStorage.getItem('jwtd-enroll-token');
const user = await restoreOrNull();
if (user) {
  sessionStorage.removeItem('jwtd-enroll-token');
  start(user);
} else if (enrollToken && new URLSearchParams(location.search).get('enroll') === '1') {
  start(null);
} else {
  toSignIn();
}

/** A request with the session (client.fetch), or with the enrolment token. */
function api(path, init = {}) {
  if (user) return client.fetch(path, init);
  const headers = new Headers(init.headers || {});
  headers.set('Authorization', 'Bearer ' + enrollToken);
  return fetch(path, { ...init, headers });
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

const when = (s) => (s ? new Date(s * 1000).toLocaleString() : 'never');

async function errorCode(res) {
  try {
    return (await res.json()).code || '';
  } catch {
    return '';
  }
}

async function loadFactors() {
  const res = await api('/auth/mfa/factors');
  if (res.status === 401) return toSignIn();
  if (!res.ok) {
    $('status').textContent = 'Could not load your factors (' + res.status + ').';
    return;
  }
  const factors = await res.json();
  const body = $('factors');
  body.replaceChildren();
  for (const f of factors) {
    const tr = document.createElement('tr');
    tr.dataset.id = f.id;
    tr.append(
      text('td', f.type === 'totp' ? 'Authenticator app' : f.type),
      text('td', f.name || '–'),
      text('td', when(f.created_at)),
      text('td', when(f.last_used_at)),
    );
    const td = document.createElement('td');
    if (user) {
      const b = text('button', 'Remove', 'link');
      b.type = 'button';
      b.setAttribute('aria-label', 'Remove ' + (f.name || f.type));
      b.addEventListener('click', () => remove(f, b));
      td.append(b);
    }
    tr.append(td);
    body.append(tr);
  }
  $('no-factors').hidden = factors.length > 0;
}

async function remove(f, button) {
  $('factor-error').hidden = true;
  button.disabled = true;
  const res = await api('/auth/mfa/factors/' + encodeURIComponent(f.id), { method: 'DELETE' });
  if (res.status === 401 && (await errorCode(res)) === 'reauthentication_required') {
    $('factor-error').textContent =
      'For your safety, removing a factor needs a sign-in within the last 10 minutes. Sign out, sign in again and retry.';
    $('factor-error').hidden = false;
    button.disabled = false;
    return;
  }
  if (!res.ok && res.status !== 404) {
    $('factor-error').textContent = 'Could not remove it (' + res.status + ').';
    $('factor-error').hidden = false;
  }
  await loadFactors();
  $('factors-h').focus();
}

let factorId = null;

async function startTotp() {
  $('totp-start').disabled = true;
  const res = await api('/auth/mfa/totp/enroll', { method: 'POST' });
  $('totp-start').disabled = false;
  if (!res.ok) {
    $('status').textContent = 'Could not start the set-up (' + res.status + ').';
    return;
  }
  const e = await res.json();
  factorId = e.factor_id;
  // an <img> of the server's SVG: never inserted as markup into the page
  $('totp-qr').src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(e.qr_svg);
  $('totp-secret').textContent = e.secret.replace(/(.{4})/g, '$1 ').trim();
  $('totp-setup').hidden = false;
  $('recovery').hidden = true;
  $('totp-start').hidden = true;
  $('totp-code').focus();
}

function showRecovery(codes) {
  const list = $('recovery-codes');
  list.replaceChildren(...codes.map((c) => text('li', c)));
  $('recovery').hidden = false;
  $('recovery-download').onclick = () => {
    const blob = new Blob(['jwtd recovery codes (each works once)\n\n' + codes.join('\n') + '\n'], {
      type: 'text/plain',
    });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'jwtd-recovery-codes.txt';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  $('recovery-h').focus();
}

async function activate(e) {
  e.preventDefault();
  const code = $('totp-code');
  $('totp-error').hidden = true;
  if (!code.value.trim()) {
    $('totp-error').textContent = 'Enter the code the app shows.';
    $('totp-error').hidden = false;
    return;
  }
  $('totp-submit').disabled = true;
  const res = await api('/auth/mfa/totp/activate', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ factor_id: factorId, code: code.value.replace(/\s/g, '') }),
  });
  $('totp-submit').disabled = false;
  code.value = '';
  if (!res.ok) {
    $('totp-error').textContent =
      (await errorCode(res)) === 'invalid_code' ? 'That code is not valid. Try the next one.' : 'Activation failed (' + res.status + ').';
    $('totp-error').hidden = false;
    code.focus();
    return;
  }
  const { recovery_codes: codes } = await res.json();
  $('totp-setup').hidden = true;
  $('totp-start').hidden = false;
  showRecovery(codes);
  if (!user) {
    sessionStorage.removeItem('jwtd-enroll-token');
    $('status').textContent = 'Done. Save your recovery codes, then sign in again with your password and a code.';
  }
  await loadFactors();
}

async function signOut() {
  sessionStorage.removeItem('jwtd-enroll-token');
  try {
    if (user) await client.logout();
  } finally {
    location.replace('/app/');
  }
}

async function start(u) {
  $('who').textContent = u ? 'Signed in as ' + u.username : '';
  $('enroll-note').hidden = !!u;
  $('signout').addEventListener('click', signOut);
  $('totp-start').addEventListener('click', startTotp);
  $('totp-activate').addEventListener('submit', activate);
  if (u) client.addEventListener('logout', () => toSignIn());
  $('factors-section').hidden = false;
  $('totp-section').hidden = false;
  await loadFactors();
  $('status').textContent = '';
  $('main').setAttribute('aria-busy', 'false');
  $('title').focus();
}
