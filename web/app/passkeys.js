// passkeys.js - passkeys (WebAuthn) in the web UI: add, list and remove the signed-in user's
// passkeys, and sign in with one (username-less, conditional mediation in the username field
// where the browser offers it, or as the second step of a password sign-in).
//
// jwtd's options and the browser's credentials travel in WebAuthn Level 3's JSON forms:
// PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON and
// credential.toJSON(), with a small base64url fallback for browsers without them. A passkey
// sign-in asks jwtd for the browser flow's answer ({"cookie": true}: the refresh cookie), so
// the page then restores its session from the cookie like after a password sign-in.
import { client } from './session.js';

const json = (body) => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

/** Whether this browser has WebAuthn at all. */
export const supported = () => typeof window.PublicKeyCredential === 'function';

/** Whether jwtd has passkeys switched on (its sign-in options answer 404 when not). */
export async function enabledOnServer() {
  try {
    const res = await fetch('/auth/webauthn/login/options', json({}));
    return res.ok;
  } catch {
    return false;
  }
}

/** Whether the browser can offer passkeys in the username field's autofill. */
export async function conditionalAvailable() {
  if (!supported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== 'function') return false;
  try {
    return await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: dec(json.challenge),
    user: { ...json.user, id: dec(json.user.id) },
    excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: dec(c.id) })),
  };
}

function requestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: dec(json.challenge),
    allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: dec(c.id) })),
  };
}

function credentialJSON(cred) {
  if (typeof cred.toJSON === 'function') return cred.toJSON();
  const r = cred.response;
  const response = { clientDataJSON: enc(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = enc(r.attestationObject);
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
  } else {
    response.authenticatorData = enc(r.authenticatorData);
    response.signature = enc(r.signature);
    if (r.userHandle) response.userHandle = enc(r.userHandle);
  }
  return { id: cred.id, rawId: enc(cred.rawId), type: cred.type, response, clientExtensionResults: {} };
}

/** An Error with jwtd's status, code and detail, and its whole answer (body). */
async function problem(res, fallback) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const err = new Error(body.detail || fallback);
  err.status = res.status;
  err.code = body.code || '';
  err.body = body;
  return err;
}

/** Creates a passkey for the signed-in user and registers it under name. Resolves to the factor. */
export async function addPasskey(name) {
  let res = await client.fetch('/auth/webauthn/register/options', { method: 'POST' });
  if (!res.ok) throw await problem(res, 'Could not start adding a passkey');
  const cred = await navigator.credentials.create({ publicKey: creationOptions(await res.json()) });
  res = await client.fetch('/auth/webauthn/register', json({ ...credentialJSON(cred), name }));
  if (!res.ok) throw await problem(res, 'The passkey was not accepted');
  return res.json();
}

/** The signed-in user's passkeys, newest first. */
export async function listPasskeys() {
  const res = await client.fetch('/auth/webauthn/credentials');
  if (!res.ok) throw await problem(res, 'Could not load your passkeys');
  return res.json();
}

/** Removes one of the signed-in user's passkeys. */
export async function removePasskey(id) {
  const res = await client.fetch('/auth/webauthn/credentials/' + encodeURIComponent(id), { method: 'DELETE' });
  if (!res.ok) throw await problem(res, 'Could not remove the passkey');
}

let pending = null;

/** Cancels a passkey request in progress (e.g. the conditional one before a password sign-in). */
export function cancelPasskeyRequest() {
  if (pending) pending.abort();
  pending = null;
}

/**
 * Signs in with a passkey: username-less, or conditional (the browser's autofill offers the
 * passkeys when the user focuses the username field), or as the second step of a password
 * sign-in (mfaToken). Resolves to the user once the session is restored; rejects with the
 * browser's error (NotAllowedError when the user cancels) or jwtd's (its answer in
 * err.body: a passkey without user verification, for a role that requires a second factor,
 * rejects with code mfa_required and body.mfa_token, or mfa_enrollment_required and
 * body.enroll_token).
 */
export async function signInWithPasskey({ conditional = false, mfaToken = null } = {}) {
  cancelPasskeyRequest();
  const controller = new AbortController();
  pending = controller;
  let res = await fetch('/auth/webauthn/login/options', json(mfaToken ? { mfa_token: mfaToken } : {}));
  if (!res.ok) throw await problem(res, 'Passkey sign-in is not available');
  const { challenge_id: challengeId, ...opts } = await res.json();
  const request = { publicKey: requestOptions(opts), signal: controller.signal };
  if (conditional) request.mediation = 'conditional';
  const cred = await navigator.credentials.get(request);
  if (pending === controller) pending = null;
  res = await fetch('/auth/webauthn/login', {
    ...json({ challenge_id: challengeId, credential: credentialJSON(cred), cookie: true }),
    credentials: 'include',
  });
  if (!res.ok) throw await problem(res, 'The passkey was not accepted');
  return client.restore();
}
