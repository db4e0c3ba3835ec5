/**
 * @module Connections to a directory. This module opens them (TCP or LDAPS, then StartTLS when
 * configured), binds, and keeps a small pool bound as the lookup account. It also translates
 * network, TLS and LDAP errors into the step that failed, in plain words.
 */
import type { ConnectionOptions } from "node:tls";
import { isIP } from "node:net";
import {
  Client,
  ConfidentialityRequiredError,
  InvalidCredentialsError,
  NoSuchObjectError,
  StrongAuthRequiredError,
  UnwillingToPerformError,
} from "ldapts";
import { logger } from "../log/logger.ts";
import type { ConnectionParameters } from "./settings.ts";

const log = logger("directory");

/** The step of talking to a directory that failed. */
export type DirectoryStep = "dns" | "tcp" | "tls" | "bind" | "search";

/** The directory cannot be used: it is down, unreachable, too slow or misconfigured. */
export class DirectoryUnavailableError extends Error {
  readonly step: DirectoryStep;

  constructor(step: DirectoryStep, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "DirectoryUnavailableError";
    this.step = step;
  }
}

/** TLS options for both LDAPS and StartTLS; `host` drives hostname verification for IPs too. */
export function tlsOptions(parameters: ConnectionParameters): ConnectionOptions {
  const options: ConnectionOptions = {
    host: parameters.host,
    minVersion: "TLSv1.2",
    rejectUnauthorized: !parameters.unsafeSkipCertificateCheck,
  };
  // Node rejects an IP address as SNI server name, but still checks the IP against the SAN.
  if (!isIP(parameters.host)) options.servername = parameters.host;
  if (parameters.caCertificates) options.ca = parameters.caCertificates;
  return options;
}

/**
 * Opens a connection and brings it to the configured transport: TLS for ldaps:// from the first
 * byte, or a StartTLS upgrade. ldapts connects lazily, so the StartTLS exchange or the first
 * operation is what surfaces a DNS, TCP or TLS failure.
 */
export async function openConnection(parameters: ConnectionParameters): Promise<Client> {
  const client = new Client({
    url: parameters.url,
    timeout: parameters.timeoutMs,
    connectTimeout: parameters.timeoutMs,
    // NOTE: ldapts 8.2.0 under Bun 1.4.4 breaks StartTLS (ECONNRESET) when a plain ldap://
    // client is also given tlsOptions, so they are passed only for ldaps://.
    tlsOptions: parameters.transport === "ldaps" ? tlsOptions(parameters) : undefined,
    strictDN: false,
  });
  if (parameters.transport === "starttls") {
    try {
      await client.startTLS(tlsOptions(parameters));
    } catch (error) {
      await closeQuietly(client);
      throw describeFailure(error, "tls", parameters);
    }
  }
  return client;
}

/** Binds `client`; wrong credentials return false, every other failure throws. */
export async function bindAs(client: Client, dn: string, password: string, parameters: ConnectionParameters): Promise<boolean> {
  try {
    await client.bind(dn, password);
    return true;
  } catch (error) {
    if (error instanceof InvalidCredentialsError) return false;
    throw describeFailure(error, "bind", parameters);
  }
}

/** Unbinds and closes, ignoring errors: the connection is being dropped anyway. */
export async function closeQuietly(client: Client): Promise<void> {
  try {
    await client.unbind();
  } catch {
    // The socket is already gone.
  }
}

const tlsTrustCodes = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

/**
 * Translates an error from ldapts, the socket or TLS into a DirectoryUnavailableError naming
 * the failed step. `step` is the operation that was running; network errors override it because
 * ldapts opens the socket lazily inside that operation.
 */
export function describeFailure(error: unknown, step: DirectoryStep, parameters: ConnectionParameters): DirectoryUnavailableError {
  if (error instanceof DirectoryUnavailableError) return error;
  const where = `${parameters.host}:${parameters.port}`;
  const code = (error as NodeJS.ErrnoException)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
    return new DirectoryUnavailableError("dns", `the directory host name ${parameters.host} cannot be resolved`, error);
  }
  if (code === "ECONNREFUSED") {
    return new DirectoryUnavailableError("tcp", `connection to ${where} was refused: no directory listens there`, error);
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "ETIMEDOUT" || message === "Connection timeout") {
    return new DirectoryUnavailableError("tcp", `connecting to ${where} failed or timed out after ${parameters.timeoutMs} ms`, error);
  }
  if (typeof code === "string" && tlsTrustCodes.has(code)) {
    return new DirectoryUnavailableError(
      "tls",
      `the directory's TLS certificate is not trusted (${code}); add the CA that issued it to caCertificates`,
      error,
    );
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new DirectoryUnavailableError("tls", `the directory's TLS certificate does not name ${parameters.host}: ${message}`, error);
  }
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    return new DirectoryUnavailableError("tls", `the directory's TLS certificate is expired or not yet valid (${code})`, error);
  }
  if (code === "ECONNRESET" || code === "EPIPE" || /socket|TLS|SSL/i.test(message)) {
    const duringTls = step === "tls" || parameters.transport !== "none";
    return new DirectoryUnavailableError(
      duringTls && step !== "search" && step !== "bind" ? "tls" : step,
      `the connection to ${where} was closed during ${step === "tls" ? "the TLS handshake" : `the ${step}`}: ${message}`,
      error,
    );
  }
  if (/timed out/i.test(message)) {
    return new DirectoryUnavailableError(step, `the directory did not respond to the ${step} within ${parameters.timeoutMs} ms`, error);
  }
  if (error instanceof ConfidentialityRequiredError || error instanceof StrongAuthRequiredError) {
    return new DirectoryUnavailableError(step, `the directory requires TLS for this ${step}; use ldaps or StartTLS`, error);
  }
  if (step === "bind" && error instanceof InvalidCredentialsError) {
    return new DirectoryUnavailableError("bind", "the lookup account's bind DN or password is wrong", error);
  }
  if (step === "bind" && error instanceof UnwillingToPerformError) {
    return new DirectoryUnavailableError("bind", `the directory rejected the bind: ${message}`, error);
  }
  if (step === "search" && error instanceof NoSuchObjectError) {
    return new DirectoryUnavailableError("search", `the base DN ${parameters.baseDn} does not exist in the directory`, error);
  }
  return new DirectoryUnavailableError(step, `the directory ${step} failed: ${message}`, error);
}

/** How long an idle pooled connection is kept before it is closed, in milliseconds. */
const idleLifetimeMs = 60_000;
/** Idle connections kept per directory; busier moments open extra connections and close them after use. */
const maxIdleConnections = 4;

interface IdleConnection {
  client: Client;
  since: number;
}

/**
 * Connections bound as the lookup account, reused across requests. A connection that failed an
 * operation is closed rather than returned, so after an outage the next request opens a fresh
 * one and the appliance recovers without a restart.
 */
export class LookupPool {
  private idle: IdleConnection[] = [];
  private closed = false;

  constructor(readonly parameters: ConnectionParameters) {}

  /** Runs `operation` on a lookup-bound connection; any error drops that connection. */
  async use<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    try {
      const result = await operation(client);
      this.release(client);
      return result;
    } catch (error) {
      await closeQuietly(client);
      throw error;
    }
  }

  /** Closes every idle connection; later calls to `use` still work but open new connections. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle;
    this.idle = [];
    await Promise.all(idle.map((entry) => closeQuietly(entry.client)));
  }

  private async acquire(): Promise<Client> {
    while (this.idle.length > 0) {
      const entry = this.idle.pop()!;
      // ldapts silently reconnects a closed socket without binding again, so a connection that
      // lost its bind must never be reused: its searches would run anonymously.
      if (entry.client.isConnected && entry.client.isBound && Date.now() - entry.since < idleLifetimeMs) return entry.client;
      void closeQuietly(entry.client);
    }
    const client = await openConnection(this.parameters);
    try {
      if (!(await bindAs(client, this.parameters.bindDn, this.parameters.bindPassword, this.parameters))) {
        throw new DirectoryUnavailableError("bind", "the lookup account's bind DN or password is wrong");
      }
    } catch (error) {
      await closeQuietly(client);
      throw describeFailure(error, "bind", this.parameters);
    }
    log.debug({ url: this.parameters.url }, "opened a directory connection");
    return client;
  }

  private release(client: Client): void {
    if (this.closed || this.idle.length >= maxIdleConnections || !client.isBound) {
      void closeQuietly(client);
      return;
    }
    this.idle.push({ client, since: Date.now() });
  }
}
