// session.js - the one JwtdClient of a page of the jwtd web UI (same origin as jwtd), plus
// small helpers shared by the pages. Pages import it; tests can too:
//   (await import('/app/session.js')).client
import { JwtdClient } from './jwtd-client.js';

export const client = new JwtdClient();

/** Where to go after sign-in: only paths inside /app/ (no open redirect). */
export function safeNext(value) {
  if (typeof value === 'string' && /^\/app\/[A-Za-z0-9._\/-]*$/.test(value) && !value.includes('//')) {
    return value;
  }
  return '/app/dashboard.html';
}

/** restore() that treats any failure as "signed out". */
export async function restoreOrNull() {
  try {
    return await client.restore();
  } catch {
    return null;
  }
}
