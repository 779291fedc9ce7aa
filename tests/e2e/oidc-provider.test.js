// jwtd as an OpenID Connect provider, with an implementation that is not ours as the relying
// party: npm openid-client (v6, unmodified) does discovery, builds the authorization request
// (PKCE S256, state, nonce), exchanges the code, validates the ID token, and calls userinfo,
// refresh, introspection and revocation. The user's part runs in Debian's Chromium through
// jwtd's own sign-in page and consent page. A tiny server on another port plays the app's
// redirect URI.
//
// Scenarios, in order, in one browser profile:
//   code + PKCE through sign-in and consent -> tokens validated by openid-client -> userinfo
//   -> refresh with rotation (the old refresh token is then refused) -> introspection ->
//   revocation; a tampered state is rejected by the library; the dashboard lists the app
//   under "Connected apps" and revokes it; prompt=none in a fresh browser -> login_required.
//
//   cd tests/e2e && npm install && node --test oidc-provider.test.js  (JWTD_BIN picks the binary)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';

import { ROOT, TEST_PASSWORD, jwtdBin, startJwtd } from '../../clients/js/test/server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'build', 'e2e-artifacts');
const SCOPE = 'openid profile email offline_access';

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, name + '.png'), fullPage: true });

/** The app's redirect URI: answers every GET with a small page. */
function callbackServer() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>the app</title><p>back in the app</p>');
    });
    srv.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) });
    });
  });
}

const launch = (profile) =>
  chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1000, height: 800 },
  });

describe('jwtd as an OpenID Connect provider, openid-client as the relying party', () => {
  let jwtd, app, keyDir, profile, context, page, config, client, redirectUri;

  /** An authorization request of openid-client, with its checks. */
  async function request(extra = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: checks.expectedState,
      nonce: checks.expectedNonce,
      ...extra,
    });
    return { url, checks };
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await callbackServer();
    redirectUri = app.url + '/callback';
    keyDir = mkdtempSync(join(tmpdir(), 'jwtd-oidc-key-'));
    const key = join(keyDir, 'es256.pem');
    const r = spawnSync(jwtdBin(), ['keygen', '--alg', 'ES256', '--out', key], {
      encoding: 'utf8',
      cwd: keyDir,
      env: { ...process.env, JWTD_DATA_DIR: keyDir, JWTD_DATABASE_URL: `sqlite:${keyDir}/unused.db` },
    });
    assert.equal(r.status, 0, r.stderr);
    jwtd = await startJwtd({ env: { JWTD_ENVIRONMENT: 'development', JWTD_ALGORITHM: 'ES256', JWTD_SIGNING_KEY_FILE: key, JWTD_SECRET_KEY: undefined },
    });
    // a third-party confidential client: the user is asked for consent
    client = JSON.parse(jwtd.cli(['client', 'create', '--name', 'Photo App', '--redirect-uri', redirectUri]));
    config = await oidc.discovery(new URL(jwtd.url), client.client_id, client.client_secret, oidc.ClientSecretBasic(client.client_secret), {
      execute: [oidc.allowInsecureRequests],
    });
    profile = mkdtempSync(join(tmpdir(), 'jwtd-oidc-profile-'));
    context = await launch(profile);
    page = context.pages()[0] || (await context.newPage());
  });

  after(async () => {
    if (context) await context.close();
    for (const d of [profile, keyDir]) if (d) rmSync(d, { recursive: true, force: true });
    if (app) await app.close();
    if (jwtd) await jwtd.stop();
  });

  let tokens;

  test('discovery: the library reads the full metadata', () => {
    const m = config.serverMetadata();
    assert.equal(m.issuer, jwtd.url);
    assert.equal(m.authorization_endpoint, jwtd.url + '/oauth/authorize');
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.ok(m.supportsPKCE());
    assert.equal(m.authorization_response_iss_parameter_supported, true);
  });

  test('authorization code + PKCE through the sign-in and consent pages; the library validates the ID token', async () => {
    const { url, checks } = await request();
    await page.goto(url.href);
    await page.waitForURL(/\/app\/\?next=%2Foauth%2Fauthorize/);
    await page.getByLabel('Username').fill('testuser');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    const text = await page.locator('main').innerText();
    assert.match(text, /Photo App/);
    assert.match(text, /e-mail address/);
    assert.match(text, /offline_access/);
    await shot(page, 'oidc-01-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    const back = new URL(page.url());
    assert.equal(back.searchParams.get('iss'), jwtd.url);
    tokens = await oidc.authorizationCodeGrant(config, back, checks);
    const claims = tokens.claims();
    assert.equal(claims.iss, jwtd.url);
    assert.equal(claims.aud, client.client_id);
    assert.equal(claims.nonce, checks.expectedNonce);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.ok(claims.auth_time <= claims.iat);
    assert.ok(tokens.refresh_token && tokens.id_token && tokens.access_token);
    assert.equal(tokens.scope, SCOPE);
  });

  test('userinfo, refresh with rotation, introspection, revocation', async () => {
    const sub = tokens.claims().sub;
    const info = await oidc.fetchUserInfo(config, tokens.access_token, sub);
    assert.equal(info.preferred_username, 'testuser');
    assert.equal(info.email, 'testuser@example.com');
    assert.equal(info.email_verified, false);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated');
    assert.notEqual(refreshed.access_token, tokens.access_token);
    // a new ID token (OpenID Connect Core 12.2), validated by openid-client: the same
    // authentication, no nonce, at_hash of the new access token
    assert.ok(refreshed.id_token && refreshed.id_token !== tokens.id_token, 'a new ID token');
    const first = tokens.claims(), again = refreshed.claims();
    for (const k of ['iss', 'sub', 'aud', 'auth_time', 'amr', 'sid']) assert.deepEqual(again[k], first[k], k);
    assert.equal(again.nonce, undefined);
    assert.ok(again.iat >= first.iat);
    const digest = crypto.createHash('sha256').update(refreshed.access_token).digest();
    assert.equal(again.at_hash, digest.subarray(0, 16).toString('base64url'));

    let intro = await oidc.tokenIntrospection(config, refreshed.access_token);
    assert.equal(intro.active, true);
    assert.equal(intro.client_id, client.client_id);
    assert.equal(intro.username, 'testuser');
    intro = await oidc.tokenIntrospection(config, tokens.refresh_token);
    assert.equal(intro.active, false, 'the rotated-out refresh token is spent');

    await oidc.tokenRevocation(config, refreshed.refresh_token);
    for (const t of [refreshed.refresh_token, refreshed.access_token]) {
      assert.equal((await oidc.tokenIntrospection(config, t)).active, false);
    }
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token), (e) => e.error === 'invalid_grant');
  });

  test('a tampered state is rejected by the library; consent is remembered', async () => {
    const { url, checks } = await request();
    await page.goto(url.href);
    // signed in and consented already: straight back to the app
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    const back = new URL(page.url());
    assert.ok(back.searchParams.get('code'));
    back.searchParams.set('state', checks.expectedState + 'x');
    await assert.rejects(oidc.authorizationCodeGrant(config, back, checks), (e) => /state/.test(String(e.cause && e.cause.message)));
    // a wrong code_verifier for the same (unspent) code is refused by jwtd
    back.searchParams.set('state', checks.expectedState);
    await assert.rejects(
      oidc.authorizationCodeGrant(config, back, { ...checks, pkceCodeVerifier: oidc.randomPKCECodeVerifier() }),
      (e) => e.error === 'invalid_grant',
    );
  });

  test('prompt=login asks for the password again although the browser is signed in', async () => {
    const { url, checks } = await request({ prompt: 'login' });
    await page.goto(url.href);
    await page.waitForURL(/\/app\/\?login=1&next=/);
    await page.getByLabel('Password').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign in', exact: true }).isVisible(), true);
    await page.getByLabel('Username').fill('testuser');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    const fresh = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
    assert.ok(fresh.claims().auth_time >= tokens.claims().auth_time);
  });

  test('the dashboard lists the app under "Connected apps" and revokes it', async () => {
    const { url, checks } = await request();
    await page.goto(url.href);
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    const live = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
    await page.goto(jwtd.url + '/app/dashboard.html');
    const row = page.locator(`#apps tr[data-client-id="${client.client_id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /Photo App/);
    await shot(page, 'oidc-02-connected-apps');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await oidc.tokenIntrospection(config, live.access_token)).active, false);
    await assert.rejects(oidc.refreshTokenGrant(config, live.refresh_token));
  });

  test('prompt=none without a session: login_required, back at the app', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'jwtd-oidc-fresh-'));
    const ctx = await launch(fresh);
    try {
      const p = ctx.pages()[0] || (await ctx.newPage());
      const { url, checks } = await request({ prompt: 'none' });
      await p.goto(url.href);
      await p.waitForURL((u) => u.href.startsWith(redirectUri));
      const back = new URL(p.url());
      assert.equal(back.searchParams.get('error'), 'login_required');
      await assert.rejects(oidc.authorizationCodeGrant(config, back, checks), (e) => e.error === 'login_required');
    } finally {
      await ctx.close();
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
