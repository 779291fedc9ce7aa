// session.js - the one JwtdClient of a page of the jwtd web UI (same origin as jwtd), plus
// small helpers shared by the pages. Pages import it; tests can too:
//   (await import('/app/session.js')).client
import { JwtdClient } from './jwtd-client.js';

export const client = new JwtdClient();

/** Where to go after sign-in: only paths inside /app/, or back to jwtd's own OAuth
 *  authorization endpoint (an app signing in through jwtd), never elsewhere (no open redirect). */
export function safeNext(value) {
  if (typeof value === 'string' && /^\/app\/[A-Za-z0-9._\/-]*$/.test(value) && !value.includes('//')) {
    return value;
  }
  if (isAuthorizeReturn(value)) return value;
  return '/app/dashboard.html';
}

/** Whether next is a return to /oauth/authorize (a path with a query, nothing else). */
export function isAuthorizeReturn(value) {
  return typeof value === 'string' && /^\/oauth\/authorize\?[A-Za-z0-9._~%&=+-]*$/.test(value);
}

/**
 * Before going back to /oauth/authorize: hands this tab's signed-in session to the OAuth
 * endpoints (an HttpOnly cookie scoped to /oauth/, set by POST /oauth/session).
 */
export async function startOAuthSession() {
  const res = await client.fetch('/oauth/session', { method: 'POST' });
  if (!res.ok) throw new Error('could not start the sign-in for the app (' + res.status + ')');
}

/** restore() that treats any failure as "signed out". */
export async function restoreOrNull() {
  try {
    return await client.restore();
  } catch {
    return null;
  }
}
