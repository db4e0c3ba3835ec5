/** @module Types shared by the HTTP app, its middleware and its routes. */
import type { Store } from "../store/database.ts";
import type { UserRow } from "../store/schema.ts";
import type { NetworkServices } from "../supervisor/supervisor.ts";
import type { LoginThrottle } from "../users/login-throttle.ts";
import type { TokenClaims } from "../tokens/tokens.ts";

/** Long-lived services the routes use. */
export interface Services {
  store: Store;
  tokenSecret: string;
  /** The supervised DHT node and TURN server; absent when the app runs without a supervisor. */
  network?: NetworkServices;
  /** Failed-login counters; createApp makes one when it is not given. */
  loginThrottle?: LoginThrottle;
}

/** Per-connection values the runtime adapter passes to `app.fetch`. */
export interface Bindings {
  /** The TLS client certificate chain as DER, leaf first; empty when none was sent. */
  peerCertificates?: Uint8Array[];
  /** The remote address of the connection. */
  remoteAddress?: string;
}

/** Request-scoped values set by middleware. */
export interface Variables {
  requestId: string;
  claims: TokenClaims;
  user: UserRow;
  /** Fields handlers add to the one log line of the request. */
  logFields: Record<string, unknown>;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
