// Social sign-in in real Chromium: jwtd as the relying party of an external OpenID provider,
// npm oidc-provider (certified, unmodified; tests/e2e/fixtures/idp.js) on 127.0.0.1.
//
// Scenarios, each in a fresh browser context (its own cookies, at jwtd and at the provider):
//   a new person signs in with the provider -> an account is created, the dashboard lists
//   the linked provider, and unlinking it is refused (no password: the only way in);
//   the same person again -> the same account (found by iss + sub);
//   someone whose verified e-mail is a local account's -> signed into that account, linked,
//   and the link can be removed from the dashboard (the account has a password);
//   an unverified e-mail -> not linked: a new account;
//   the provider's "deny" (error=access_denied) -> back on the sign-in page with a message;
//   a person with an authenticator app at jwtd -> the sign-in page asks for its code after
//   the provider (code from npm otplib), then the dashboard.
// Screenshots go to build/e2e-artifacts/.
//
//   cd tests/e2e && npm install && node --test oidc-rp.test.js     (JWTD_BIN picks the binary)

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { generate } from 'otplib';
import { chromium } from 'playwright-core';

import { ROOT, startJwtd } from '../../clients/js/test/server.mjs';
import { startIdp } from './fixtures/idp.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'build', 'e2e-artifacts');
const CLIENT_ID = 'jwtd-e2e';
const CLIENT_SECRET = 'e2e-client-secret-' + Math.random().toString(36).slice(2);

/** A free TCP port on 127.0.0.1 (jwtd's callback URL must be registered at the provider
    before jwtd starts). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

describe('social sign-in through oidc-provider in Chromium', () => {
  let idp, jwtd, browser, secretDir;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startIdp({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${base}/auth/oidc/idp/callback`],
    });
    secretDir = mkdtempSync(join(tmpdir(), 'jwtd-e2e-oidc-'));
    const secretFile = join(secretDir, 'client_secret');
    writeFileSync(secretFile, CLIENT_SECRET + '\n');
    chmodSync(secretFile, 0o600);
    jwtd = await startJwtd({
      env: {
        JWTD_ENVIRONMENT: 'development',
        JWTD_LISTEN: `127.0.0.1:${port}`,
        JWTD_SIGNUP: 'open',
        JWTD_OIDC_PROVIDERS: 'idp',
        JWTD_OIDC_IDP_ISSUER: idp.issuer,
        JWTD_OIDC_IDP_CLIENT_ID: CLIENT_ID,
        JWTD_OIDC_IDP_CLIENT_SECRET_FILE: secretFile,
      },
      users: ['testuser'], // testuser@example.com, with a password
    });
    assert.equal(jwtd.url, base);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (jwtd) await jwtd.stop();
    if (idp) await idp.close();
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  });

  /**
   * From jwtd's sign-in page through the provider's login (and consent) pages; resolves to
   * the page once it is back at jwtd. decide: 'allow' or 'deny' at the consent step.
   */
  async function signInWithProvider(login, { decide = 'allow', shotName } = {}) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    const page = await context.newPage();
    await page.goto(jwtd.url + '/app/?next=' + encodeURIComponent('/app/dashboard.html'));
    const button = page.getByRole('link', { name: 'Sign in with Idp' });
    await button.waitFor();
    if (shotName) await page.screenshot({ path: join(ARTIFACTS, shotName + '-signin.png') });
    await button.click();
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"]').click();
    // the consent page (first visit of this client for this account)
    await page.waitForURL((u) => !u.href.startsWith(idp.issuer) || /interaction/.test(u.href));
    if (page.url().startsWith(idp.issuer)) {
      if (decide === 'deny') {
        // "deny": the provider ends the interaction with access_denied (its abort path)
        const uid = new URL(page.url()).pathname.split('/').filter(Boolean).pop();
        await page.goto(`${idp.issuer}/interaction/${uid}/abort`);
      } else {
        await page.getByRole('button', { name: 'Continue' }).click();
      }
    }
    await page.waitForURL((u) => u.href.startsWith(jwtd.url + '/app/'));
    return { context, page };
  }

  test('a new person signs in: account created, provider listed, unlink refused', async () => {
    const { context, page } = await signInWithProvider('newperson', { shotName: 'oidc-01' });
    await page.waitForURL(/\/app\/dashboard\.html$/);
    await page.getByText('Signed in as newperson').waitFor();
    const row = page.locator('#identities tr[data-identity]');
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.match(await row.first().textContent(), /idp.*newperson@idp\.example/);
    // the session is the browser flow's: an HttpOnly refresh cookie
    const cookies = await context.cookies(jwtd.url + '/api/auth/');
    const rc = cookies.find((c) => c.name === 'refresh_token');
    assert.ok(rc && rc.httpOnly && rc.sameSite === 'Lax');
    // the binding cookie of the sign-in is gone
    assert.ok(!(await context.cookies(jwtd.url + '/auth/oidc/')).some((c) => c.name === 'jwtd_oidc' && c.value));
    await page.screenshot({ path: join(ARTIFACTS, 'oidc-02-dashboard.png'), fullPage: true });
    // no password: unlinking the only way to sign in is refused
    await row.first().getByRole('button', { name: 'Unlink idp' }).click();
    await page.getByRole('alert').filter({ hasText: 'only way to sign in' }).waitFor();
    assert.equal(await row.count(), 1);
    const me = await page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      return (await client.fetch('/auth/me')).json();
    });
    await context.close();

    // the same person again, in a new browser: the same account (iss + sub)
    const again = await signInWithProvider('newperson');
    await again.page.getByText('Signed in as newperson').waitFor();
    const me2 = await again.page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      return (await client.fetch('/auth/me')).json();
    });
    assert.equal(me2.id, me.id);
    await again.context.close();
  });

  test('a verified e-mail of a local account signs into it and links; the link can be removed', async () => {
    const { context, page } = await signInWithProvider('testuser@example.com');
    await page.waitForURL(/\/app\/dashboard\.html$/);
    await page.getByText('Signed in as testuser').waitFor();
    const row = page.locator('#identities tr[data-identity]');
    await row.first().waitFor();
    assert.match(await row.first().textContent(), /testuser@example\.com/);
    await page.screenshot({ path: join(ARTIFACTS, 'oidc-03-linked.png'), fullPage: true });
    // testuser has a password: the link may go
    await row.first().getByRole('button', { name: 'Unlink idp' }).click();
    await page.locator('#identities-none').waitFor({ state: 'visible' });
    assert.equal(await row.count(), 0);
    await context.close();
  });

  test('an unverified e-mail is not linked: a new account', async () => {
    const { context, page } = await signInWithProvider('unverified-x@example.com');
    await page.waitForURL(/\/app\/dashboard\.html$/);
    await page.getByText('Signed in as unverified-x').waitFor();
    await context.close();
  });

  test('a person with a second factor at jwtd is asked for its code after the provider', async () => {
    const first = await signInWithProvider('mfaperson');
    await first.page.getByText('Signed in as mfaperson').waitFor();
    // an authenticator app set up at jwtd (through the API, with the session's token)
    const secret = await first.page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      const e = await (await client.fetch('/auth/mfa/totp/enroll', { method: 'POST' })).json();
      sessionStorage.setItem('e2e-factor', e.factor_id);
      return e.secret;
    });
    const activated = await first.page.evaluate(async ([code]) => {
      const { client } = await import('/app/session.js');
      const res = await client.fetch('/auth/mfa/totp/activate', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ factor_id: sessionStorage.getItem('e2e-factor'), code }),
      });
      return res.status;
    }, [await generate({ secret })]);
    assert.equal(activated, 200);
    await first.context.close();
    // a new browser: the provider signs the person in, then jwtd's page asks for the code
    const { context, page } = await signInWithProvider('mfaperson');
    const code = page.getByLabel('Verification code');
    await code.waitFor();
    assert.equal(new URL(page.url()).hash, ''); // the mfa_token left the address bar
    const none = await page.evaluate(async () => (await fetch('/api/auth/refresh/', { method: 'POST' })).status);
    assert.equal(none, 401); // no session before the code
    await page.screenshot({ path: join(ARTIFACTS, 'oidc-05-second-step.png') });
    await code.fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/app\/dashboard\.html$/);
    await page.getByText('Signed in as mfaperson').waitFor();
    const amr = await page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      const part = client.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part)).amr;
    });
    assert.deepEqual(amr, ['otp', 'mfa', 'ext']);
    await context.close();
  });

  test('the provider denies: back on the sign-in page with a message', async () => {
    const { context, page } = await signInWithProvider('someone', { decide: 'deny' });
    await page.waitForURL(/oidc_error=provider_error/);
    await page.getByRole('alert').filter({ hasText: 'did not sign you in' }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'oidc-04-denied.png') });
    const status = await page.evaluate(async () => (await fetch('/api/auth/refresh/', { method: 'POST' })).status);
    assert.equal(status, 401);
    await context.close();
  });
});
