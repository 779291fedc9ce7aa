// Types of jwtd-client.js (the browser client of jwtd's cookie flow).

export interface JwtdUser {
  id: number;
  username: string;
  email: string;
  first_name?: string;
  last_name?: string;
  role?: 'user' | 'instructor' | 'admin';
  premium?: boolean;
}

export interface JwtdClientOptions {
  /** jwtd's origin; '' (default) = same origin. */
  baseUrl?: string;
  /** fetch implementation (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Seconds before expiry to refresh proactively (default 30, capped at lifetime/4). */
  refreshBeforeExpiry?: number;
  /** Schedule proactive refreshes (default true). */
  proactive?: boolean;
  /** BroadcastChannel name for cross-tab messages (default 'jwtd-auth'; null disables). */
  channelName?: string | null;
  /** Web Lock name serializing refreshes across tabs (default 'jwtd-refresh'). */
  lockName?: string;
}

export type JwtdEventType = 'login' | 'logout' | 'refresh' | 'tokenchange';

export interface JwtdEventDetail {
  user?: JwtdUser | null;
  reason?: 'login' | 'refresh' | 'auto-refresh' | 'other-tab' | 'logout' | 'expired';
  fromOtherTab?: boolean;
}

export class JwtdError extends Error {
  status: number;
  code: string;
  /** jwtd's parsed answer (for "mfa_required": mfa_token and factors), or null. */
  body: Record<string, unknown> | null;
  constructor(message: string, status?: number, code?: string, body?: Record<string, unknown> | null);
}

export function decodeJwt(token: string): Record<string, unknown> | null;

export class JwtdClient extends EventTarget {
  constructor(options?: JwtdClientOptions);
  readonly accessToken: string | null;
  readonly user: JwtdUser | null;
  readonly isAuthenticated: boolean;
  secondsLeft(): number | null;
  login(username: string, password: string): Promise<JwtdUser>;
  /** Finishes a login that rejected with code "mfa_required" (TOTP or recovery code). */
  verifyMfa(mfaToken: string, code: string): Promise<JwtdUser>;
  restore(): Promise<JwtdUser | null>;
  loadUser(): Promise<JwtdUser>;
  logout(): Promise<void>;
  refresh(): Promise<string>;
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  destroy(): void;
  addEventListener(
    type: JwtdEventType,
    listener: (ev: CustomEvent<JwtdEventDetail>) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
}

export default JwtdClient;
