// dashboard.js - the protected page: restores the session from the refresh cookie (or
// sends the visitor to sign-in), shows the user, the access token's remaining lifetime and
// the active sessions with "sign out this session" and "sign out everywhere".
import { startPasskeys } from './passkeys-section.js';
import { client, restoreOrNull } from './session.js';

const $ = (id) => document.getElementById(id);
const toSignIn = () => location.replace('/app/?next=' + encodeURIComponent(location.pathname));

const user = await restoreOrNull();
if (!user) {
  toSignIn();
} else {
  start(user);
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : '–';
}

function renderUser(u) {
  const dl = $('user');
  dl.replaceChildren();
  for (const [k, label] of [['username', 'Username'], ['email', 'Email'], ['role', 'Role'], ['id', 'User id']]) {
    if (u[k] === undefined) continue;
    dl.append(text('dt', label), text('dd', String(u[k])));
  }
  $('who').textContent = 'Signed in as ' + u.username;
}

function tick() {
  const left = client.secondsLeft();
  $('token-left').textContent = left === null ? '–' : Math.max(0, Math.round(left)) + ' s';
}

async function loadSessions() {
  const res = await client.fetch('/auth/sessions');
  if (res.status === 401) return toSignIn();
  if (!res.ok) {
    $('status').textContent = 'Could not load sessions (' + res.status + ').';
    return;
  }
  const { sessions } = await res.json();
  const body = $('sessions');
  body.replaceChildren();
  for (const s of sessions) {
    const tr = document.createElement('tr');
    tr.dataset.sid = s.sid;
    const first = text('td', when(s.created_at));
    if (s.current) first.append(text('span', 'this browser', 'badge'));
    tr.append(first, text('td', when(s.last_used_at)), text('td', s.client_ip || '–'), text('td', s.user_agent || '–', 'ua'));
    const td = document.createElement('td');
    const b = text('button', s.current ? 'Sign out' : 'Sign out this session', 'link');
    b.type = 'button';
    b.setAttribute('aria-label', (s.current ? 'Sign out of this browser' : 'Sign out the session started ') + (s.current ? '' : when(s.created_at)));
    b.addEventListener('click', () => revoke(s, b));
    td.append(b);
    tr.append(td);
    body.append(tr);
  }
  $('status').textContent = sessions.length + (sessions.length === 1 ? ' active session.' : ' active sessions.');
}

/* The posts list of the service API (docs/api.md §8), shown only when jwtd serves it. */
async function loadPosts() {
  const res = await client.fetch('/posts?page=1&page_size=10');
  if (!res.ok) return; // 404: this jwtd has no posts API
  const body = await res.json();
  const posts = Array.isArray(body) ? body : body.results || body.items || body.posts || [];
  const list = $('posts');
  list.replaceChildren();
  for (const p of posts) {
    const li = text('li', p.title || '(untitled)');
    const by = p.author_username || (p.author && p.author.username) || p.username;
    if (by) li.append(text('span', ' by ' + by, 'muted'));
    list.append(li);
  }
  if (!posts.length) list.append(text('li', 'No posts yet.', 'muted'));
  $('posts-section').hidden = false;
}

async function revoke(s, button) {
  button.disabled = true;
  if (s.current) {
    await signOut();
    return;
  }
  const res = await client.fetch('/auth/sessions/' + encodeURIComponent(s.sid), { method: 'DELETE' });
  if (!res.ok && res.status !== 404) $('status').textContent = 'Could not sign that session out (' + res.status + ').';
  await loadSessions();
  $('sessions-h').focus();
}

async function signOut() {
  try {
    await client.logout();
  } finally {
    location.replace('/app/');
  }
}

async function signOutEverywhere() {
  $('signout-all').disabled = true;
  await client.fetch('/auth/sessions', { method: 'DELETE' });
  await signOut();
}

async function start(u) {
  renderUser(u);
  let refreshes = 0;
  client.addEventListener('refresh', () => {
    $('refresh-count').textContent = String(++refreshes);
    tick();
  });
  client.addEventListener('logout', () => toSignIn());
  $('signout').addEventListener('click', signOut);
  $('signout-all').addEventListener('click', signOutEverywhere);
  $('sessions-h').tabIndex = -1;
  for (const id of ['user-section', 'token-section', 'sessions-section']) $(id).hidden = false;
  tick();
  setInterval(tick, 1000);
  await Promise.all([loadSessions(), loadPosts().catch(() => {}), startPasskeys().catch(() => {})]);
  $('main').setAttribute('aria-busy', 'false');
  $('title').focus();
}
