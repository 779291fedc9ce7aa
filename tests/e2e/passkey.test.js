// Passkeys in real Chromium: a CDP virtual authenticator (WebAuthn.enable +
// WebAuthn.addVirtualAuthenticator: ctap2, internal transport, resident keys, user
// verification) plays the platform authenticator, driven through playwright-core.
//
// Scenarios, in order, in one browser profile: add a passkey on the dashboard; sign out and
// sign in with it without a username (conditional mediation); a replayed sign-in (the same request sent again) is
// refused; a cloned authenticator (the credential copied with a lower signature counter) is
// refused; the wrong origin (a page on another origin whose assertion reaches jwtd) is
// refused; the button where the browser has no conditional mediation; the passkey as the second step of a password sign-in; removing the passkey.
// Then an authenticator without user verification (one factor) for a user of a role that
// requires MFA (JWTD_MFA_REQUIRED_ROLES=admin): with no other factor the passkey button
// leads to the enrolment on the Security page, with an authenticator app to the code form,
// the same steps as a password sign-in (codes by npm otplib).
// Screenshots go to build/e2e-artifacts/passkey-*.png.
//
//   cd tests/e2e && npm install && node --test passkey.test.js     (JWTD_BIN picks the binary)

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { generate } from 'otplib';
import { chromium } from 'playwright-core';

import { ROOT, TEST_PASSWORD, startJwtd } from '../../clients/js/test/server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'build', 'e2e-artifacts');

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, 'passkey-' + name + '.png'), fullPage: true });

/** A free TCP port on 127.0.0.1 (the origin must be known before jwtd starts). */
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

/** A static page on another origin (http://localhost:<port>) for the wrong-origin case. */
function otherOrigin() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>another site</title><p>another site</p>');
    });
    srv.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://localhost:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) });
    });
  });
}

/** A virtual platform authenticator on page's target. Resolves to { cdp, id }. */
async function authenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

const credentials = async (a) => (await a.cdp.send('WebAuthn.getCredentials', { authenticatorId: a.id })).credentials;

describe('passkeys in Chromium', () => {
  let jwtd, origin, other, context, page, profile, auth, cred;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const port = await freePort();
    origin = `http://localhost:${port}`;
    other = await otherOrigin();
    jwtd = await startJwtd({
      env: {
        JWTD_ENVIRONMENT: 'development',
        JWTD_LISTEN: `127.0.0.1:${port}`,
        JWTD_WEBAUTHN_RP_ID: 'localhost',
        JWTD_WEBAUTHN_ORIGINS: origin,
        // preferred: an authenticator without user verification is accepted, as one factor
        JWTD_WEBAUTHN_USER_VERIFICATION: 'preferred',
        JWTD_MFA_REQUIRED_ROLES: 'admin',
      },
    });
    profile = mkdtempSync(join(tmpdir(), 'jwtd-e2e-passkey-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1100, height: 900 },
    });
    page = context.pages()[0] || (await context.newPage());
    auth = await authenticator(page);
  });

  after(async () => {
    if (context) await context.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (other) await other.close();
    if (jwtd) await jwtd.stop();
  });

  async function signInWithPassword(username = 'testuser') {
    await page.goto(origin + '/app/');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function signOut() {
    await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
    await page.waitForURL(/\/app\/$/);
  }

  test('add a passkey on the dashboard', async () => {
    await signInWithPassword();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
    await page.getByLabel('Name of the new passkey').fill('Virtual key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('status').filter({ hasText: 'Passkey added.' }).waitFor();
    await page.locator('#passkeys tr').filter({ hasText: 'Virtual key' }).waitFor();
    const list = await credentials(auth);
    assert.equal(list.length, 1);
    assert.equal(list[0].isResidentCredential, true, 'a discoverable credential');
    assert.equal(list[0].rpId, 'localhost');
    cred = list[0];
    await shot(page, '01-added');
  });

  test('sign in with the passkey, without a username (conditional mediation)', async () => {
    const before = (await credentials(auth))[0].signCount;
    // the sign-in page offers the passkeys in the username field's autofill at once; the
    // virtual authenticator answers that request as a user picking the passkey would
    await signOut();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByText('Signed in as testuser').waitFor();
    assert.ok((await credentials(auth))[0].signCount > before, 'the authenticator counted');
    // the session is the browser flow's: the refresh cookie, amr hwk + user
    const cookies = await context.cookies(origin + '/api/auth/');
    assert.ok(cookies.find((c) => c.name === 'refresh_token' && c.httpOnly));
    const amr = await page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      return JSON.parse(atob(client.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).amr;
    });
    assert.deepEqual(amr, ['hwk', 'user']);
    await page.locator('#passkeys tr').filter({ hasNotText: 'never' }).first().waitFor();
    await shot(page, '02-signed-in');
  });

  test('the "Sign in with a passkey" button (a browser without conditional mediation)', async () => {
    // from now on this page's browser has no conditional mediation, so the sign-in page
    // waits for the button
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
    await signOut();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByText('Signed in as testuser').waitFor();
  });

  test('a replayed sign-in request is refused', async () => {
    await signOut();
    const sent = page.waitForRequest((r) => r.url().endsWith('/auth/webauthn/login') && r.method() === 'POST');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const body = (await sent).postData();
    await page.waitForURL(/dashboard\.html$/);
    const res = await fetch(origin + '/auth/webauthn/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: origin },
      body,
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, 'challenge_invalid');
  });

  test('a cloned authenticator (the counter goes backwards) is refused', async () => {
    await signOut();
    const now = (await credentials(auth))[0];
    assert.ok(now.signCount >= 2);
    // the same key in a copy whose counter is behind the one jwtd has seen
    await auth.cdp.send('WebAuthn.removeCredential', { authenticatorId: auth.id, credentialId: now.credentialId });
    await auth.cdp.send('WebAuthn.addCredential', {
      authenticatorId: auth.id,
      credential: { ...now, signCount: 0 },
    });
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('alert').filter({ hasText: 'cloned authenticator' }).waitFor();
    assert.match(page.url(), /\/app\/$/);
    await shot(page, '03-cloned');
    // the genuine authenticator's counter goes on: it is accepted again
    await auth.cdp.send('WebAuthn.removeCredential', { authenticatorId: auth.id, credentialId: now.credentialId });
    await auth.cdp.send('WebAuthn.addCredential', {
      authenticatorId: auth.id,
      credential: { ...now, signCount: now.signCount + 10 },
    });
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(/dashboard\.html$/);
  });

  test('the wrong origin: an assertion made for another origin is refused', async () => {
    const page2 = await context.newPage();
    const auth2 = await authenticator(page2);
    const now = (await credentials(auth))[0];
    await auth2.cdp.send('WebAuthn.addCredential', { authenticatorId: auth2.id, credential: now });
    await page2.goto(other.url + '/');
    const options = await (await fetch(origin + '/auth/webauthn/login/options', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    })).json();
    // the other origin's page (rp id localhost is valid there too) asks for the assertion
    const credential = await page2.evaluate(async (json) => {
      const { challenge_id: _, ...o } = json;
      const c = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o) });
      return c.toJSON();
    }, options);
    const res = await fetch(origin + '/auth/webauthn/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ challenge_id: options.challenge_id, credential }),
    });
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.code, 'passkey_rejected');
    assert.match(body.detail, /origin/);
    await page2.close();
  });

  test('the passkey as the second step of a password sign-in', async () => {
    await signOut();
    await signInWithPassword();
    await page.getByRole('button', { name: 'Confirm with your passkey' }).waitFor();
    await shot(page, '04-second-step');
    await page.getByRole('button', { name: 'Confirm with your passkey' }).click();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByText('Signed in as testuser').waitFor();
    const amr = await page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      return JSON.parse(atob(client.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).amr;
    });
    assert.deepEqual([...amr].sort(), ['hwk', 'mfa', 'pwd']);
  });

  test('remove the passkey', async () => {
    const row = page.locator('#passkeys tr').filter({ hasText: 'Virtual key' });
    await row.getByRole('button', { name: /Remove/ }).click();
    await page.getByRole('status').filter({ hasText: 'Passkey removed.' }).waitFor();
    assert.equal(await page.locator('#passkeys tr').count(), 0);
    // a password alone signs in again
    await signOut();
    await signInWithPassword();
    await page.waitForURL(/dashboard\.html$/);
    await shot(page, '05-removed');
  });

  const amrOf = () =>
    page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      return JSON.parse(atob(client.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).amr;
    });
  let secret;

  test('no user verification, a role that requires MFA, no other factor: the enrolment', async () => {
    jwtd.cli(['user', 'create', 'keyadmin', '--email', 'keyadmin@example.com', '--password-stdin'], TEST_PASSWORD);
    await signOut();
    // a plain user (no MFA required) adds the passkey, then becomes an admin
    await signInWithPassword('keyadmin');
    await page.waitForURL(/dashboard\.html$/);
    await page.getByLabel('Name of the new passkey').fill('Key without UV');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('status').filter({ hasText: 'Passkey added.' }).waitFor();
    // only keyadmin's passkey stays on the authenticator (testuser's was removed in jwtd)
    const key = (await credentials(auth)).find((c) => c.userName === 'keyadmin');
    for (const c of await credentials(auth)) {
      if (c.credentialId !== key.credentialId) {
        await auth.cdp.send('WebAuthn.removeCredential', { authenticatorId: auth.id, credentialId: c.credentialId });
      }
    }
    // from here on the authenticator's answers say the user was not verified (UV flag 0):
    // the passkey is one factor. (Chromium's virtual authenticators without user
    // verification refuse a username-less sign-in, so the flag is overridden instead.)
    await auth.cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId: auth.id, isBadUV: true });
    jwtd.cli(['user', 'set-role', 'keyadmin', 'admin']); // also revokes the user's sessions
    await page.goto(origin + '/app/');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    // the server answered mfa_enrollment_required: the page goes where a password sign-in
    // of that user goes, the Security page with the enrolment token
    await page.waitForURL(/\/app\/security\.html\?enroll=1$/);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    secret = (await page.locator('#totp-secret').textContent()).replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await page.getByLabel('Code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByRole('heading', { name: 'Recovery codes' }).waitFor();
    await shot(page, '06-enrolled');
  });

  test('no user verification, a role that requires MFA: the code form, then signed in', async () => {
    await page.goto(origin + '/app/');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const code = page.getByLabel('Verification code');
    await code.waitFor();
    await shot(page, '07-code');
    assert.match(page.url(), /\/app\/$/);
    // a wrong code is refused and the form stays
    await code.fill((await generate({ secret })) === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    // the activation used this time step's code: the app's next one
    await code.fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByText('Signed in as keyadmin').waitFor();
    const amr = await amrOf();
    assert.ok(amr.includes('hwk') && amr.includes('otp') && amr.includes('mfa'), String(amr));
    assert.ok(!amr.includes('pwd'), 'no password was used');
    // the session is the browser flow's: the refresh cookie, a reload keeps it
    await page.reload();
    await page.getByText('Signed in as keyadmin').waitFor();
  });
});
