// End-to-end tests of jwtd's browser flow in real Chromium (Debian's /usr/bin/chromium driven
// by npm playwright-core; no browser is ever downloaded). jwtd is started from the test
// (ephemeral port, temp dir, the demo user created with `jwtd user create`), with a short
// access-token lifetime so refreshes happen while the test watches. Two tiny static servers
// on other ports play a cross-origin app: one listed in JWTD_CORS_ALLOWED_ORIGINS, one not.
//
// Scenarios, in order, in ONE browser profile (so they share the cookie jar, like a user):
//   sign in -> dashboard; reload -> still signed in; token expiry -> transparent refresh;
//   two tabs refreshing at the same moment -> both signed in, one session family;
//   allowed origin -> CORS with credentials works; disallowed origin -> blocked by CORS and
//   its same-site cookie POST refused by the CSRF check; sign out -> protected page
//   redirects and the old refresh cookie is rejected.
// Screenshots go to build/e2e-artifacts/.
//
//   cd tests/e2e && npm install && node --test e2e.test.js     (JWTD_BIN picks the binary)

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { ROOT, TEST_PASSWORD, startJwtd } from '../../clients/js/test/server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'build', 'e2e-artifacts');
const ACCESS_LIFETIME_S = 6;

/** A static server on an ephemeral port answering every GET with html. */
function staticServer(html) {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html);
    });
    srv.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) });
    });
  });
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, name + '.png'), fullPage: true });

/**
 * An operation on the page's JwtdClient (the module instance the UI uses). A fixed set: the
 * UI's CSP forbids eval, so no function source can be shipped into the page.
 */
const clientOp = (page, op) =>
  page.evaluate(async (name) => {
    const { client } = await import('/app/session.js');
    switch (name) {
      case 'token':
        return client.accessToken;
      case 'refresh':
        return client.refresh();
      case 'verify':
        return (await client.fetch('/api/auth/verify/')).status;
      case 'sessions':
        return (await client.fetch('/auth/sessions')).json();
      case 'pause-proactive':
        client.proactive = false;
        clearTimeout(client._timer);
        return client.secondsLeft();
      case 'resume-proactive':
        client.proactive = true;
        return null;
      case 'seconds-left':
        return client.secondsLeft();
      case 'sid':
        return JSON.parse(atob(client.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sid;
      default:
        throw new Error('unknown op ' + name);
    }
  }, op);

describe('jwtd web UI in Chromium', () => {
  let jwtd, allowed, denied, context, page, profile, firstSessionAccess;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    allowed = await staticServer('<!doctype html><title>allowed app</title><p>allowed</p>');
    denied = await staticServer('<!doctype html><title>other app</title><p>not allowed</p>');
    jwtd = await startJwtd({
      env: {
        JWTD_ENVIRONMENT: 'development',
        JWTD_ACCESS_TOKEN_LIFETIME: String(ACCESS_LIFETIME_S),
        JWTD_AUTO_REFRESH_WINDOW: '0',
        JWTD_CORS_ALLOWED_ORIGINS: allowed.url,
      },
    });
    profile = mkdtempSync(join(tmpdir(), 'jwtd-e2e-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1100, height: 800 },
    });
    page = context.pages()[0] || (await context.newPage());
  });

  after(async () => {
    if (context) await context.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (allowed) await allowed.close();
    if (denied) await denied.close();
    if (jwtd) await jwtd.stop();
  });

  test('a signed-out visitor is sent to sign-in; signing in shows the dashboard', async () => {
    await page.goto(jwtd.url + '/app/dashboard.html');
    await page.waitForURL(/\/app\/\?next=/);
    await page.getByLabel('Username').fill('testuser');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
    await shot(page, '01-signin-error');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.keyboard.press('Enter'); // keyboard submit
    await page.waitForURL(/\/app\/dashboard\.html$/);
    await page.getByText('Signed in as testuser').waitFor();
    await page.locator('#sessions tr').first().waitFor();
    assert.equal(await page.locator('#sessions tr').count(), 1);
    const cookies = await context.cookies(jwtd.url + '/api/auth/');
    const rc = cookies.find((c) => c.name === 'refresh_token');
    assert.ok(rc && rc.httpOnly && rc.path === '/api/auth/' && rc.sameSite === 'Lax');
    // the token never reaches script-readable storage
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes('eyJ'), 'no token in web storage or document.cookie');
    const headers = (await page.request.get(jwtd.url + '/app/dashboard.html')).headers();
    assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.ok(headers['referrer-policy']);
    await shot(page, '02-dashboard');
  });

  test('reload keeps the session (restored from the HttpOnly cookie)', async () => {
    await page.reload();
    await page.getByText('Signed in as testuser').waitFor();
    assert.match(page.url(), /dashboard\.html$/);
    await shot(page, '03-after-reload');
  });

  test('an expiring access token is refreshed transparently', async () => {
    const first = await clientOp(page, 'token');
    await page.waitForFunction(() => Number(document.getElementById('refresh-count').textContent) >= 1, null, {
      timeout: (ACCESS_LIFETIME_S + 4) * 1000,
    });
    const now = await clientOp(page, 'token');
    assert.notEqual(now, first);
    // after the first token's expiry, API calls still work
    await page.waitForTimeout(1000);
    const status = await clientOp(page, 'verify');
    assert.equal(status, 200);
    assert.match(page.url(), /dashboard\.html$/);
    await shot(page, '04-after-refresh');
  });

  test('an expired access token: the 401 is answered by one refresh and a retry', async () => {
    const left = await clientOp(page, 'pause-proactive');
    const expired = await clientOp(page, 'token');
    await page.waitForTimeout(Math.max(0, left + 1.2) * 1000);
    assert.ok((await clientOp(page, 'seconds-left')) < 0, 'the token has expired');
    assert.equal(await clientOp(page, 'verify'), 200);
    assert.notEqual(await clientOp(page, 'token'), expired);
    await clientOp(page, 'resume-proactive');
  });

  test('two tabs refreshing at the same moment both stay signed in, in one session family', async () => {
    const page2 = await context.newPage();
    await page2.goto(jwtd.url + '/app/dashboard.html');
    await page2.getByText('Signed in as testuser').waitFor();
    for (let round = 0; round < 3; round++) {
      const tokens = await Promise.all(
        [page, page2].map((p) => clientOp(p, 'refresh')),
      );
      assert.equal(tokens.length, 2);
    }
    const sids = await Promise.all(
      [page, page2].map((p) => clientOp(p, 'sid')),
    );
    assert.equal(sids[0], sids[1], 'both tabs are in the same session');
    for (const p of [page, page2]) {
      const s = await clientOp(p, 'sessions');
      assert.equal(s.sessions.length, 1, 'exactly one session family');
      assert.equal(s.sessions[0].sid, sids[0]);
    }
    await page2.reload();
    await page2.getByText('Signed in as testuser').waitFor();
    await page.reload();
    await page.getByText('Signed in as testuser').waitFor();
    await shot(page2, '05-second-tab');
    await page2.close();
  });

  test('CORS: a listed origin gets credentialed answers; another origin is blocked and its cookie POST refused', async () => {
    firstSessionAccess = await clientOp(page, 'token');
    const other = await context.newPage();
    await other.goto(allowed.url + '/');
    const ok = await other.evaluate(async (api) => {
      const r = await fetch(api + '/api/auth/login/', {
        method: 'POST',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: 'testuser', password: 'testpass123' }),
      });
      const body = await r.json();
      const v = await fetch(api + '/api/auth/verify/', {
        credentials: 'include',
        headers: { Authorization: 'Bearer ' + body.access },
      });
      return { status: r.status, verify: v.status, access: body.access };
    }, jwtd.url);
    assert.equal(ok.status, 200);
    assert.equal(ok.verify, 200);
    assert.ok(ok.access);

    const cookieBefore = (await context.cookies(jwtd.url + '/api/auth/')).find((c) => c.name === 'refresh_token').value;
    await other.goto(denied.url + '/');
    const blocked = await other.evaluate(async (api) => {
      const out = {};
      try {
        await fetch(api + '/api/auth/refresh/', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: '{}' });
        out.refresh = 'readable';
      } catch (e) {
        out.refresh = 'blocked';
      }
      try {
        await fetch(api + '/api/auth/verify/', { credentials: 'include' });
        out.verify = 'readable';
      } catch (e) {
        out.verify = 'blocked';
      }
      // A "simple" request needs no preflight and carries the same-site cookie: only the
      // server's Origin check stops it (why SameSite=Lax alone is not enough).
      await fetch(api + '/api/auth/refresh/', { method: 'POST', credentials: 'include', mode: 'no-cors' });
      return out;
    }, jwtd.url);
    assert.deepEqual(blocked, { refresh: 'blocked', verify: 'blocked' });
    const cookieAfter = (await context.cookies(jwtd.url + '/api/auth/')).find((c) => c.name === 'refresh_token').value;
    assert.equal(cookieAfter, cookieBefore, 'the cross-origin POST did not rotate the cookie');
    await shot(other, '06-other-origin');
    await other.close();
  });

  test('sign out: the protected page redirects and the old refresh cookie is rejected', async () => {
    await page.goto(jwtd.url + '/app/dashboard.html');
    await page.getByText('Signed in as testuser').waitFor();
    // the login made from the allowed origin above replaced the host's cookie: this tab is now
    // in that second session; sign the first one out from the list
    await page.locator('#sessions tr').nth(1).waitFor();
    assert.equal(await page.locator('#sessions tr').count(), 2);
    await page.getByRole('button', { name: /^Sign out the session started/ }).click();
    await page.getByRole('status').filter({ hasText: '1 active session.' }).waitFor();
    assert.equal((await clientOp(page, 'sessions')).sessions.length, 1);
    const gone = await fetch(jwtd.url + '/api/auth/verify/', { headers: { Authorization: 'Bearer ' + firstSessionAccess } });
    assert.equal(gone.status, 401, "the signed-out session's access token is rejected at once");
    await shot(page, '07-one-session-left');
    const oldCookie = (await context.cookies(jwtd.url + '/api/auth/')).find((c) => c.name === 'refresh_token').value;
    const oldAccess = await clientOp(page, 'token');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/app\/$/);
    assert.equal((await context.cookies(jwtd.url + '/api/auth/')).find((c) => c.name === 'refresh_token'), undefined);
    await page.goto(jwtd.url + '/app/dashboard.html');
    await page.waitForURL(/\/app\/\?next=/);
    await shot(page, '08-signed-out');
    // keyboard: focus starts in the username field and Tab walks the form in order
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'username');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'password');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'submit');
    const r = await fetch(jwtd.url + '/api/auth/refresh/', {
      method: 'POST',
      headers: { Cookie: 'refresh_token=' + oldCookie, Origin: jwtd.url },
    });
    assert.equal(r.status, 401);
    const v = await fetch(jwtd.url + '/api/auth/verify/', { headers: { Authorization: 'Bearer ' + oldAccess } });
    assert.equal(v.status, 401, 'the access token of the signed-out session is rejected at once');
  });
});
