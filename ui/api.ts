/**
 * @module The admin console's client of the JSON API: the same routes scripts use, with the
 * ADMIN token in sessionStorage sent as a Bearer header.
 *
 * When a call gets 401 `not_authenticated` (the token expired, after 30 minutes), the call waits
 * while the app shows a sign-in dialog over the current screen, then retries once with the new
 * token. The screen stays mounted, so a half-filled form is kept.
 */

const tokenKey = "jams.adminToken";

/** An error reply of the API: `{"error", "message", "requestId", "details"?}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The field named by `details.field`, as the CA import reports it. */
  get field(): string | undefined {
    const field = (this.details as { field?: unknown } | undefined)?.field;
    return typeof field === "string" ? field : undefined;
  }

  /** Field errors listed in `details.fields`, as settings validation reports them. */
  get fieldErrors(): Record<string, string> {
    const fields = (this.details as { fields?: unknown } | undefined)?.fields;
    const errors: Record<string, string> = {};
    if (!Array.isArray(fields)) return errors;
    for (const entry of fields as { field?: unknown; message?: unknown }[]) {
      if (typeof entry.field === "string" && typeof entry.message === "string") {
        errors[entry.field] = errors[entry.field] ? `${errors[entry.field]}; ${entry.message}` : entry.message;
      }
    }
    return errors;
  }
}

export function readToken(): string | null {
  return sessionStorage.getItem(tokenKey);
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(tokenKey);
  else sessionStorage.setItem(tokenKey, token);
}

type SignInRequester = () => Promise<void>;
let requestSignIn: SignInRequester | undefined;
let pendingSignIn: Promise<void> | undefined;

/** Registers the function that shows the sign-in dialog and resolves once the admin signed in. */
export function onSessionExpired(requester: SignInRequester): void {
  requestSignIn = requester;
}

/** Options of one API call. */
export interface CallOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  /** False for the calls that create a session (sign-in, setup start), where a 401 means wrong credentials. */
  auth?: boolean;
}

/** Calls the API and returns the parsed JSON; throws ApiError for any error reply. */
export async function api<T>(path: string, options: CallOptions = {}): Promise<T> {
  const response = await send(path, options);
  if (response.status === 401 && options.auth !== false && requestSignIn) {
    pendingSignIn ??= requestSignIn().finally(() => {
      pendingSignIn = undefined;
    });
    await pendingSignIn;
    return parse<T>(await send(path, options));
  }
  return parse<T>(response);
}

async function send(path: string, options: CallOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = readToken();
  if (token && options.auth !== false) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (error) {
    throw new ApiError(0, "network_error", `the server cannot be reached (${(error as Error).message}); check that it is running`);
  }
}

async function parse<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(response.status, "invalid_response", `the server sent a reply that is not JSON (HTTP ${response.status})`);
  }
  if (!response.ok) {
    const error = body as { error?: string; message?: string; details?: unknown; requestId?: string };
    throw new ApiError(
      response.status,
      error.error ?? "unknown_error",
      error.message ?? `HTTP ${response.status}`,
      error.details,
      error.requestId,
    );
  }
  return body as T;
}

/** Signs in as an administrator and stores the token; rejects non-admin accounts. */
export async function signIn(username: string, password: string): Promise<void> {
  const reply = await api<{ access_token: string; scope: string }>("/api/login", {
    method: "POST",
    body: { username, password },
    auth: false,
  });
  if (reply.scope !== "ADMIN") {
    throw new ApiError(403, "forbidden", `${username} is not an administrator; sign in with an administrator account`);
  }
  storeToken(reply.access_token);
}

// ---- API shapes used by the screens ----

export interface Info {
  installed: boolean;
  setupStep: "start" | "ca" | "auth" | "settings" | "done";
  version: string;
}

export interface User {
  username: string;
  role: "user" | "admin";
  source: "local" | "ldap" | "ad";
  status: "active" | "disabled" | "revoked";
  createdAt: string;
  revokedAt: string | null;
  accountId: string | null;
  accountNotAfter: string | null;
  devices?: number;
  displayName?: string;
}

export interface Device {
  deviceId: string;
  username: string;
  name: string;
  status: "active" | "revoked" | "expired";
  serial: string;
  enrolledAt: string;
  renewedAt: string;
  notAfter: string;
  revokedAt: string | null;
  revocationReason: string | null;
}

export interface Stats {
  users: { total: number; active: number; disabled: number; revoked: number };
  devices: { total: number; active: number; revoked: number; expired: number };
  enrollmentsPerDay: { date: string; count: number }[];
  ca: { subject: string; notBefore: string; notAfter: string; serialNumber: string } | null;
}

export interface ChildStatus {
  name: string;
  state: string;
  pid: number | null;
  restarts: number;
  uptimeSeconds: number | null;
  lastHealthCheck: { at: string; ok: boolean; detail: string } | null;
  problem: string | null;
  nextStartAt: string | null;
}

export interface RecentEvent {
  time: string;
  level: "warn" | "error" | "fatal";
  component: string | null;
  message: string;
  requestId: string | null;
  request: string | null;
  code: string | null;
  error: string | null;
}

export interface ServerSettings {
  settings: {
    serverDomain?: string;
    deviceLifetime: number;
    userLifetime: number;
    crlLifetime: number;
    publicNameServer: boolean;
  };
  nameServer: string;
  authType: "LOCAL" | "LDAP" | "AD";
  version: string;
}

/** The RFC 5280 revocation reasons the server accepts. */
export const revocationReasons = [
  ["cessationOfOperation", "No longer used (cessation of operation)"],
  ["keyCompromise", "Key compromised (device lost or stolen)"],
  ["superseded", "Replaced by another device (superseded)"],
  ["privilegeWithdrawn", "Privilege withdrawn"],
  ["unspecified", "Unspecified"],
] as const;
