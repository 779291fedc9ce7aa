// The account pages of the web UI in real Chromium, with real mail: jwtd sends through SMTP
// to a real server on loopback (Debian's python3-aiosmtpd, tests/integration/mailsink.py,
// which stores each message it receives), and the test opens the link of the message that
// actually arrived. Scenarios: sign-up with JWTD_SIGNUP=verified -> "check your e-mail" ->
// the link -> verified -> sign in; forgot password -> the link -> a weak password refused ->
// a new password -> sign in with it; sign-in with an e-mailed code, and with a code when the
// account has an authenticator app (the page goes on to the second step; otplib computes the
// app's codes); the pages at 390 px.
//
//   cd tests/e2e && node --test mail.test.js     (JWTD_BIN picks the binary)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { generate } from 'otplib';
import { chromium } from 'playwright-core';

import { ROOT, startJwtd } from '../../clients/js/test/server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'build', 'e2e-artifacts');
const PASSWORD = 'correct-horse-battery';
const NEW_PASSWORD = 'tr0ub4dor-and-3-more';

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, name + '.png'), fullPage: true });

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The SMTP server: mailsink.py PORT DIR, ready once it printed "ready". */
async function startSink() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'jwtd-e2e-mail-'));
  const proc = spawn('/usr/bin/python3', [join(ROOT, 'tests', 'integration', 'mailsink.py'), String(port), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready')) resolve();
    });
    proc.on('exit', (code) => reject(new Error('mailsink exited ' + code)));
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    dir,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The decoded text/plain part of a raw message. */
function textPart(raw) {
  const m = /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(raw);
  assert.ok(m, 'a text/plain part');
  return Buffer.from(m[1].replace(/\r\n/g, ''), 'base64').toString('utf8');
}

/** Waits for the n-th message (1-based) to reach `to`; returns its text part. */
async function mailTo(sink, to, n = 1, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mine = readdirSync(sink.dir)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .map((f) => readFileSync(join(sink.dir, f), 'latin1'))
      .filter((raw) => new RegExp(`^To: ${to.replace(/[.+]/g, '\\$&')}\\r$`, 'm').test(raw));
    if (mine.length >= n) return textPart(mine[n - 1]);
    if (Date.now() > deadline) throw new Error(`no mail #${n} to ${to}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const linkIn = (text, page) => {
  const m = new RegExp(`https?://\\S+/app/${page.replace('.', '\\.')}#token=[A-Za-z0-9_-]+`).exec(text);
  assert.ok(m, `a link to ${page} in:\n${text}`);
  return m[0];
};

describe('account pages in Chromium with real mail', () => {
  let sink, jwtd, context, page, profile;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    sink = await startSink();
    const port = await freePort();
    jwtd = await startJwtd({
      users: [],
      env: {
        JWTD_ENVIRONMENT: 'development',
        JWTD_LISTEN: `127.0.0.1:${port}`,
        JWTD_PUBLIC_URL: `http://127.0.0.1:${port}`,
        JWTD_SIGNUP: 'verified',
        JWTD_SMTP_URL: sink.url,
        JWTD_MAIL_FROM: 'Example <auth@example.org>',
        JWTD_RATE_LIMIT_MAIL: '0',
        JWTD_RATE_LIMIT_MAIL_IP: '0',
      },
    });
    profile = mkdtempSync(join(tmpdir(), 'jwtd-e2e-mail-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 390, height: 844 },
    });
    page = context.pages()[0] || (await context.newPage());
  });

  after(async () => {
    if (context) await context.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (jwtd) await jwtd.stop();
    if (sink) await sink.stop();
  });

  test('sign-up: check your e-mail, the link confirms the address, then sign in', async () => {
    await page.goto(jwtd.url + '/app/');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('E-mail address').fill('alice@example.org');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/check-email\.html/);
    await page.getByText('We sent a confirmation link to alice@example.org').waitFor();
    await shot(page, 'mail-01-check-email');
    // the page fits a 390 px phone: nothing wider than the viewport
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390));
    const link = linkIn(await mailTo(sink, 'alice@example.org'), 'verify-email.html');
    await page.goto(link);
    await page.getByRole('heading', { name: 'E-mail address confirmed' }).waitFor();
    assert.ok(!page.url().includes('token='), 'the token leaves the address bar');
    await shot(page, 'mail-02-verified');
    // the same link again (a fresh page load, as from the mail): a clear error and a way to
    // get a new one
    await page.goto('about:blank');
    await page.goto(link);
    await page.getByRole('alert').filter({ hasText: 'expired or was already used' }).waitFor();
    await page.getByRole('link', { name: 'Send me a new link' }).waitFor();
    await page.goto(jwtd.url + '/app/');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByText('Signed in as alice').waitFor();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/app\/(\?.*)?$/);
  });

  test('forgot password: the link, a weak password refused, a new password, sign in', async () => {
    await page.goto(jwtd.url + '/app/');
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('E-mail address').fill('alice@example.org');
    await page.getByRole('button', { name: 'Send me a link' }).click();
    await page.getByRole('status').filter({ hasText: 'we sent it a link' }).waitFor();
    const link = linkIn(await mailTo(sink, 'alice@example.org', 2), 'reset-password.html');
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill('12345678');
    await page.getByLabel('Repeat the new password').fill('12345678');
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.getByRole('alert').filter({ hasText: 'entirely numeric' }).waitFor();
    await shot(page, 'mail-03-weak-password');
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.getByText('Your password is changed').waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390));
    await shot(page, 'mail-04-reset-done');
    await page.getByRole('link', { name: 'Sign in with your new password' }).click();
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByText('Signed in as alice').waitFor();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/app\/(\?.*)?$/);
  });

  test('sign in with an e-mailed code', async () => {
    await page.goto(jwtd.url + '/app/code-signin.html');
    await page.getByLabel('E-mail address').fill('alice@example.org');
    await page.getByRole('button', { name: 'E-mail me a code' }).click();
    await page.getByLabel('6-digit code').waitFor();
    const text = await mailTo(sink, 'alice@example.org', 3);
    const code = /\b(\d{6})\b/.exec(text)[1];
    const wrong = String((Number(code) + 1) % 1000000).padStart(6, '0');
    await page.getByLabel('6-digit code').fill(wrong);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'This code is wrong or has expired' }).waitFor();
    await page.getByLabel('6-digit code').fill(code);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByText('Signed in as alice').waitFor();
    await page.reload(); // the session lives in the refresh cookie
    await page.getByText('Signed in as alice').waitFor();
    await shot(page, 'mail-05-code-signin');
  });

  test('sign in with an e-mailed code when the account has an authenticator app', async () => {
    // (signed in from the test before) alice sets up an authenticator app through the API
    const { secret, factorId } = await page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      const r = await client.fetch('/auth/mfa/totp/enroll', { method: 'POST' });
      const e = await r.json();
      return { secret: e.secret, factorId: e.factor_id };
    });
    const activated = await page.evaluate(async ([id, code]) => {
      const { client } = await import('/app/session.js');
      const r = await client.fetch('/auth/mfa/totp/activate', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ factor_id: id, code }),
      });
      return r.status;
    }, [factorId, await generate({ secret })]);
    assert.equal(activated, 200);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/app\/(\?.*)?$/);

    await page.goto(jwtd.url + '/app/code-signin.html');
    await page.getByLabel('E-mail address').fill('alice@example.org');
    await page.getByRole('button', { name: 'E-mail me a code' }).click();
    await page.getByLabel('6-digit code').waitFor();
    const text = await mailTo(sink, 'alice@example.org', 4);
    await page.getByLabel('6-digit code').fill(/\b(\d{6})\b/.exec(text)[1]);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    // the e-mailed code was right: the second step, as on the password sign-in page
    const totp = page.getByLabel('Verification code');
    await totp.waitFor();
    assert.ok(await page.getByLabel('6-digit code').isHidden());
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390));
    await shot(page, 'mail-06-code-signin-mfa');
    await totp.fill('abcd-efgh-ijkl-mnop');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    // the activation used this time step's code: the app's next one
    await totp.fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/dashboard\.html$/);
    await page.getByText('Signed in as alice').waitFor();
    const amr = await page.evaluate(async () => {
      const { client } = await import('/app/session.js');
      const part = client.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part)).amr;
    });
    assert.ok(amr.includes('otp') && amr.includes('mfa'), JSON.stringify(amr));
    await page.reload(); // the session lives in the refresh cookie
    await page.getByText('Signed in as alice').waitFor();
  });
});
