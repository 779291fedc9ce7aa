// End-to-end test of multi-factor sign-in in real Chromium (Debian's /usr/bin/chromium driven
// by npm playwright-core): a user sets up an authenticator app on the Security page (QR code
// and secret shown, activation with a first code, recovery codes shown once and downloaded
// as text), signs out, and signs in again with password + code. The codes are computed by
// npm otplib from the secret the page shows, never by jwtd's code.
//
//   cd tests/e2e && npm install && node --test mfa.test.js     (JWTD_BIN picks the binary)

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { generate } from 'otplib';
import { chromium } from 'playwright-core';

import { ROOT, TEST_PASSWORD, startJwtd } from '../../clients/js/test/server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'build', 'e2e-artifacts');
const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, name + '.png'), fullPage: true });

/** The access token's claims, read from the page's client. */
const claims = (page) =>
  page.evaluate(async () => {
    const { client } = await import('/app/session.js');
    const part = client.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  });

describe('multi-factor sign-in in Chromium', () => {
  let jwtd, context, page, profile, secret, recovery;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    jwtd = await startJwtd({ env: { JWTD_ENVIRONMENT: 'development' }, users: ['mfauser'] });
    profile = mkdtempSync(join(tmpdir(), 'jwtd-e2e-mfa-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1100, height: 900 },
    });
    page = context.pages()[0] || (await context.newPage());
  });

  after(async () => {
    if (context) await context.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (jwtd) await jwtd.stop();
  });

  test('sign in with a password, set up an authenticator app on the Security page', async () => {
    await page.goto(jwtd.url + '/app/');
    await page.getByLabel('Username').fill('mfauser');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/app\/dashboard\.html$/);
    await page.getByText('Signed in as mfauser').waitFor();
    assert.deepEqual((await claims(page)).amr, ['pwd']);
    await page.getByRole('link', { name: 'Security' }).click();
    await page.waitForURL(/\/app\/security\.html$/);
    await page.getByText('No second factor yet').waitFor();
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByRole('img', { name: /QR code/ });
    await qr.waitFor();
    // the QR code is an image that rendered (the server's SVG), not markup in the page
    assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0));
    secret = (await page.locator('#totp-secret').textContent()).replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await page.getByLabel('Code from the app').fill('000000' === (await generate({ secret })) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    await page.getByLabel('Code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByRole('heading', { name: 'Recovery codes' }).waitFor();
    recovery = await page.locator('#recovery-codes li').allTextContents();
    assert.equal(recovery.length, 10);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download as text' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'jwtd-recovery-codes.txt');
    const text = readFileSync(await download.path(), 'utf8');
    for (const c of recovery) assert.ok(text.includes(c));
    const row = page.locator('#factors tr');
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.match(await row.first().textContent(), /Authenticator app/);
    await shot(page, 'mfa-01-security');
  });

  test('sign out, then sign in with password + code from the app', async () => {
    await page.locator('#signout').click();
    await page.waitForURL(/\/app\/$/);
    await page.getByLabel('Username').fill('mfauser');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const code = page.getByLabel('Verification code');
    await code.waitFor();
    await shot(page, 'mfa-02-code');
    // a wrong code is refused and the form stays
    await code.fill('abcd-efgh-ijkl-mnop');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    // the activation used this time step's code: the app's next one
    await code.fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/app\/dashboard\.html$/);
    await page.getByText('Signed in as mfauser').waitFor();
    const c = await claims(page);
    assert.deepEqual(c.amr, ['pwd', 'otp', 'mfa']);
    assert.ok(Math.abs(c.auth_time - Date.now() / 1000) < 120);
    // the refresh cookie was set by the verify answer: a reload keeps the session
    await page.reload();
    await page.getByText('Signed in as mfauser').waitFor();
    await shot(page, 'mfa-03-dashboard');
  });

  test('a recovery code signs in once; the factor can be removed right after', async () => {
    await page.locator('#signout').click();
    await page.waitForURL(/\/app\/$/);
    await page.getByLabel('Username').fill('mfauser');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByLabel('Verification code').fill(recovery[0]);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/app\/dashboard\.html$/);
    await page.getByText('Signed in as mfauser').waitFor();
    await page.getByRole('link', { name: 'Security' }).click();
    await page.locator('#factors tr').first().waitFor();
    assert.match(await page.locator('#factors tr').first().textContent(), /Authenticator app/);
    await page.getByRole('button', { name: /^Remove/ }).click();
    await page.getByText('No second factor yet').waitFor();
    await shot(page, 'mfa-04-removed');
  });
});
