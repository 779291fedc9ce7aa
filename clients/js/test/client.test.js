// Unit tests of jwtd-client.js with node's test runner, against a real jwtd (build/jwtd, or
// $JWTD_BIN): login, Bearer header, retry after 401 with single-flight refresh, cross-"tab"
// broadcast of tokens and logout (two clients sharing a cookie jar and a BroadcastChannel),
// X-New-Access-Token pickup, proactive refresh, restore from the cookie, logout.
//
//   cd clients/js && node --test test/client.test.js

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { JwtdClient, JwtdError, decodeJwt } from '../jwtd-client.js';
import { TEST_PASSWORD, browserFetch, startJwtd } from './server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let channelSeq = 0;
const newChannel = () => `jwtd-test-${process.pid}-${++channelSeq}`;

function waitFor(target, type, ms = 5000) {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no ${type} event within ${ms} ms`)), ms);
    target.addEventListener(type, (e) => {
      clearTimeout(t);
      res(e);
    }, { once: true });
  });
}

describe('decodeJwt', () => {
  test('decodes a payload and rejects garbage', () => {
    const payload = Buffer.from(JSON.stringify({ exp: 5, name: 'ü' })).toString('base64url');
    assert.deepEqual(decodeJwt(`x.${payload}.y`), { exp: 5, name: 'ü' });
    assert.equal(decodeJwt('garbage'), null);
    assert.equal(decodeJwt(''), null);
  });
});

describe('credentials', () => {
  test('cookies go to jwtd and same-origin URLs only; the Bearer header is set', async () => {
    const seen = [];
    const spy = async (input, init) => {
      seen.push({ url: String(input), credentials: init.credentials, auth: init.headers.get('Authorization') });
      return new Response('{}', { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
    const c = new JwtdClient({ baseUrl: 'https://auth.example.com', fetch: spy, channelName: null });
    c._access = 'tok';
    await c.fetch('https://auth.example.com/api/auth/verify/');
    await c.fetch('/api/local');
    await c.fetch('https://api.other.example/data');
    await c.fetch('https://auth.example.com.evil.net/x');
    await c.fetch('https://api.other.example/data', { credentials: 'include' });
    assert.deepEqual(
      seen.map((s) => s.credentials),
      ['include', 'include', 'same-origin', 'same-origin', 'include'],
    );
    assert.ok(seen.every((s) => s.auth === 'Bearer tok'));
    c.destroy();
  });
});

describe('against jwtd (default lifetimes)', () => {
  let srv;
  before(async () => {
    srv = await startJwtd({ users: ['testuser', 'bob'] });
  });
  after(async () => {
    await srv.stop();
  });

  test('login keeps the access token in memory and the refresh token in the cookie jar', async () => {
    const b = browserFetch(srv.url);
    const c = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    const ev = waitFor(c, 'login');
    const user = await c.login('testuser', TEST_PASSWORD);
    assert.equal(user.username, 'testuser');
    assert.equal((await ev).detail.user.username, 'testuser');
    assert.ok(c.isAuthenticated);
    assert.equal(decodeJwt(c.accessToken).token_type, 'access');
    assert.ok(b.jar.get('refresh_token'), 'refresh cookie stored');
    assert.ok(c.secondsLeft() > 800);
    const res = await c.fetch(srv.url + '/api/auth/verify/');
    assert.equal(res.status, 200);
    assert.equal((await res.json()).user.username, 'testuser');
    c.destroy();
  });

  test('wrong password rejects with a JwtdError carrying status and code', async () => {
    const b = browserFetch(srv.url);
    const c = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    await assert.rejects(c.login('testuser', 'nope'), (e) => {
      assert.ok(e instanceof JwtdError);
      assert.equal(e.status, 401);
      assert.equal(e.code, 'no_active_account');
      return true;
    });
    assert.equal(c.isAuthenticated, false);
    c.destroy();
  });

  test('a 401 triggers ONE refresh for many concurrent requests, then they are retried', async () => {
    const b = browserFetch(srv.url);
    const c = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    await c.login('testuser', TEST_PASSWORD);
    c._access = 'not-a-token'; // as if it had expired
    const before = b.counts['/api/auth/refresh/'] || 0;
    const results = await Promise.all(
      Array.from({ length: 8 }, () => c.fetch(srv.url + '/api/auth/verify/')),
    );
    for (const r of results) assert.equal(r.status, 200);
    assert.equal((b.counts['/api/auth/refresh/'] || 0) - before, 1, 'single-flight refresh');
    assert.equal(decodeJwt(c.accessToken).token_type, 'access');
    c.destroy();
  });

  test('restore() brings the session back from the cookie alone (page reload)', async () => {
    const b = browserFetch(srv.url);
    const first = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    await first.login('bob', TEST_PASSWORD);
    first.destroy();
    const reloaded = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    assert.equal(reloaded.isAuthenticated, false);
    const user = await reloaded.restore();
    assert.equal(user.username, 'bob');
    assert.ok(reloaded.isAuthenticated);
    reloaded.destroy();
  });

  test('restore() without a cookie resolves to null', async () => {
    const c = new JwtdClient({ baseUrl: srv.url, fetch: browserFetch(srv.url).fetch, channelName: null });
    assert.equal(await c.restore(), null);
    assert.equal(c.isAuthenticated, false);
    c.destroy();
  });

  test('two tabs: concurrent refreshes share the cookie and both stay signed in; logout is broadcast', async () => {
    const b = browserFetch(srv.url); // one browser profile: one cookie jar
    const name = newChannel();
    const tab1 = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: name });
    const tab2 = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: name });
    const loginSeen = waitFor(tab2, 'login');
    await tab1.login('testuser', TEST_PASSWORD);
    await loginSeen;
    assert.equal(tab2.accessToken, tab1.accessToken, 'tab 2 adopted the login');
    const sid = decodeJwt(tab1.accessToken).sid;
    await Promise.all([tab1.refresh(), tab2.refresh(), tab1.refresh(), tab2.refresh()]);
    for (const t of [tab1, tab2]) {
      const r = await t.fetch(srv.url + '/api/auth/verify/');
      assert.equal(r.status, 200);
      assert.equal(decodeJwt(t.accessToken).sid, sid, 'same session family');
    }
    const r = await tab1.fetch(srv.url + '/auth/sessions');
    const sessions = (await r.json()).sessions.filter((s) => s.sid === sid);
    assert.equal(sessions.length, 1);
    const out = waitFor(tab2, 'logout');
    await tab1.logout();
    assert.equal((await out).detail.reason, 'other-tab');
    assert.equal(tab2.isAuthenticated, false);
    assert.equal(b.jar.get('refresh_token'), undefined, 'cookie cleared');
    tab1.destroy();
    tab2.destroy();
  });

  test('logout with the refresh cookie alone (no access token in memory) revokes the session', async () => {
    const b = browserFetch(srv.url);
    const c = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    await c.login('testuser', TEST_PASSWORD);
    const access = c.accessToken;
    const cookie = b.jar.get('refresh_token').value;
    c.destroy();
    // a reloaded page: same cookie jar, nothing in memory
    const reloaded = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    await reloaded.logout();
    assert.equal(reloaded.isAuthenticated, false);
    const v = await fetch(srv.url + '/api/auth/verify/', { headers: { Authorization: 'Bearer ' + access } });
    assert.equal(v.status, 401);
    const r = await fetch(srv.url + '/api/auth/refresh/', {
      method: 'POST',
      headers: { Cookie: 'refresh_token=' + cookie, Origin: srv.url },
    });
    assert.equal(r.status, 401);
    reloaded.destroy();
  });

  test('a logout jwtd did not confirm rejects (it is never reported as success)', async () => {
    const b = browserFetch(srv.url);
    const c = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    // no session at all: jwtd answers 401 not_authenticated
    await assert.rejects(c.logout(), (e) => e instanceof JwtdError && e.status === 401);
    assert.equal(c.isAuthenticated, false);
    c.destroy();
  });

  test('after logout the old access token and the old refresh cookie are rejected', async () => {
    const b = browserFetch(srv.url);
    const c = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    await c.login('testuser', TEST_PASSWORD);
    const access = c.accessToken;
    const cookie = b.jar.get('refresh_token').value;
    await c.logout();
    assert.equal(c.isAuthenticated, false);
    const v = await fetch(srv.url + '/api/auth/verify/', { headers: { Authorization: 'Bearer ' + access } });
    assert.equal(v.status, 401);
    const r = await fetch(srv.url + '/api/auth/refresh/', {
      method: 'POST',
      headers: { Cookie: 'refresh_token=' + cookie, Origin: srv.url },
    });
    assert.equal(r.status, 401);
    c.destroy();
  });
});

describe('against jwtd (short access lifetime, auto-refresh window)', () => {
  let srv;
  before(async () => {
    srv = await startJwtd({
      env: { JWTD_ACCESS_TOKEN_LIFETIME: '4', JWTD_AUTO_REFRESH_WINDOW: '3600' },
    });
  });
  after(async () => {
    await srv.stop();
  });

  test('X-New-Access-Token from the server is adopted', async () => {
    const b = browserFetch(srv.url);
    const c = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null, proactive: false });
    await c.login('testuser', TEST_PASSWORD);
    const old = c.accessToken;
    await sleep(1100); // a new token gets a later iat/exp
    const ev = waitFor(c, 'refresh');
    const r = await c.fetch(srv.url + '/api/auth/verify/');
    assert.equal(r.status, 200);
    assert.ok(r.headers.get('x-new-access-token'));
    assert.equal((await ev).detail.reason, 'auto-refresh');
    assert.notEqual(c.accessToken, old);
    assert.equal(decodeJwt(c.accessToken).sid, decodeJwt(old).sid);
    c.destroy();
  });

  test('proactive refresh happens before the token expires', async () => {
    const b = browserFetch(srv.url);
    const c = new JwtdClient({ baseUrl: srv.url, fetch: b.fetch, channelName: null });
    await c.login('testuser', TEST_PASSWORD);
    const old = c.accessToken;
    const ev = await waitFor(c, 'refresh', 6000);
    assert.equal(ev.detail.reason, 'refresh');
    assert.notEqual(c.accessToken, old);
    assert.ok(c.secondsLeft() > 0);
    c.destroy();
  });
});
