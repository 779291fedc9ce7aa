// account.js - what the account pages share (sign-up, e-mail verification, password reset
// and change, e-mail change, sign-in by e-mailed code): one JSON POST helper that keeps the
// server's answer and its Retry-After, end-user texts for the server's errors, and the
// token of an e-mailed link (the part after #token=, never sent to the server in a URL).
import { client } from './session.js';

/** POSTs body as JSON (with the access token when signed in). Never throws on HTTP errors. */
export async function post(path, body, { auth = false } = {}) {
  const init = {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  };
  let res;
  try {
    res = auth ? await client.fetch(path, init) : await fetch(path, init);
  } catch {
    return { status: 0, data: {}, retryAfter: 0 };
  }
  let data = {};
  try { data = await res.json(); } catch { data = {}; }
  return { status: res.status, data, retryAfter: parseInt(res.headers.get('Retry-After') || '0', 10) || 0 };
}

/** "in 45 seconds", "in 3 minutes", "in about 2 hours": a wait as people say it. */
export function waitText(seconds) {
  if (seconds < 60) return `in ${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `in about ${Math.round(minutes / 60)} hours`;
}

/** The end-user text of a failed answer r (post's result); field-specific messages first. */
export function errorText(r, fields = []) {
  if (r.status === 0) return 'We could not reach the server. Check your connection and try again.';
  if (r.status === 429) return `Too many requests. Please try again ${waitText(r.retryAfter || 60)}.`;
  if (r.data && r.data.code === 'invalid_link') {
    return 'This link or code has expired or was already used. Ask for a new one.';
  }
  if (r.status === 503) return 'This service is unavailable right now. Please try again later.';
  for (const f of fields) {
    const m = r.data && r.data[f];
    if (Array.isArray(m) && m.length) return m.join(' ');
  }
  if (r.status === 400 && r.data && r.data.detail) return r.data.detail;
  return 'Something went wrong. Please try again.';
}

/** The token of the link that opened this page ("" when none), then removed from the address bar. */
export function linkToken() {
  const m = /[#&]token=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (m) history.replaceState(null, '', location.pathname + location.search);
  return m ? m[1] : '';
}

/** Shows text in the alert element el (or hides it when text is empty) and focuses field. */
export function say(el, text, field) {
  el.textContent = text || '';
  el.hidden = !text;
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }
}

/** Clears aria-invalid of the given inputs. */
export function clearInvalid(...fields) {
  for (const f of fields) f.removeAttribute('aria-invalid');
}

/** Disables button with a busy label while fn runs. */
export async function busy(button, label, fn) {
  const old = button.textContent;
  button.disabled = true;
  button.textContent = label;
  try { return await fn(); } finally {
    button.disabled = false;
    button.textContent = old;
  }
}
