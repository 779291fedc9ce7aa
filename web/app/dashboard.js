// dashboard.js - the protected page: restores the session from the refresh cookie (or
// sends the visitor to sign-in), shows the user, the access token's remaining lifetime and
// the active sessions with "sign out this session" and "sign out everywhere", the passkeys,
// the connected apps (OpenID Connect clients) with "revoke" and the linked sign-in providers
// (social sign-in) with "unlink".
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

/* The apps signed in through jwtd (OpenID Connect), each with "Revoke". */
async function loadApps() {
  const res = await client.fetch('/auth/apps');
  if (!res.ok) return;
  const { apps } = await res.json();
  const body = $('apps');
  body.replaceChildren();
  for (const a of apps) {
    const tr = document.createElement('tr');
    tr.dataset.clientId = a.client_id;
    tr.append(text('td', a.name), text('td', a.scope || '–'), text('td', when(a.granted_at)), text('td', String(a.active_sessions)));
    const td = document.createElement('td');
    const b = text('button', 'Revoke', 'link');
    b.type = 'button';
    b.setAttribute('aria-label', 'Revoke access of ' + a.name);
    b.addEventListener('click', async () => {
      b.disabled = true;
      const r = await client.fetch('/auth/apps/' + encodeURIComponent(a.client_id), { method: 'DELETE' });
      if (!r.ok && r.status !== 404) $('status').textContent = 'Could not revoke ' + a.name + ' (' + r.status + ').';
      await loadApps();
      $('apps-h').focus();
    });
    td.append(b);
    tr.append(td);
    body.append(tr);
  }
  $('apps-empty').hidden = apps.length > 0;
  $('apps-section').hidden = false;
}

/* The providers linked to the account (GET /auth/oidc/identities), shown when jwtd has them. */
async function loadIdentities() {
  const [res, providers] = await Promise.all([
    client.fetch('/auth/oidc/identities'),
    fetch('/auth/oidc/providers').then((r) => (r.ok ? r.json() : { providers: [] })),
  ]);
  if (!res.ok) return; // 404: no social sign-in on this server
  const identities = await res.json();
  // nothing linked and no provider to link: nothing to show
  if (!identities.length && !providers.providers.length) return;
  const body = $('identities');
  body.replaceChildren();
  for (const i of identities) {
    const tr = document.createElement('tr');
    tr.dataset.identity = String(i.id);
    tr.append(text('td', i.provider), text('td', i.email || '–'), text('td', when(i.created_at)), text('td', when(i.last_login)));
    const td = document.createElement('td');
    const b = text('button', 'Unlink', 'link');
    b.type = 'button';
    b.setAttribute('aria-label', 'Unlink ' + i.provider);
    b.addEventListener('click', () => unlink(i, b));
    td.append(b);
    tr.append(td);
    body.append(tr);
  }
  $('identities-table').hidden = identities.length === 0;
  $('identities-none').hidden = identities.length !== 0;
  $('identities-section').hidden = false;
}

async function unlink(identity, button) {
  button.disabled = true;
  const status = $('identities-status');
  status.hidden = true;
  const res = await client.fetch('/auth/oidc/identities/' + encodeURIComponent(identity.id), { method: 'DELETE' });
  if (res.status === 409) {
    status.textContent = 'This is the only way to sign in to this account: it cannot be unlinked.';
    status.hidden = false;
    button.disabled = false;
    return;
  }
  if (!res.ok && res.status !== 404) {
    status.textContent = 'Could not unlink ' + identity.provider + ' (' + res.status + ').';
    status.hidden = false;
  }
  await loadIdentities();
  $('identities-h').focus();
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
  $('apps-h').tabIndex = -1;
  $('identities-h').tabIndex = -1;
  for (const id of ['user-section', 'token-section', 'sessions-section']) $(id).hidden = false;
  tick();
  setInterval(tick, 1000);
  await Promise.all([loadSessions(), loadApps().catch(() => {}), loadPosts().catch(() => {}),
    loadIdentities().catch(() => {}), startPasskeys().catch(() => {})]);
  $('main').setAttribute('aria-busy', 'false');
  $('title').focus();
}
