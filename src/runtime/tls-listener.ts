/**
 * @module The runtime adapter: an HTTPS listener that requests, without requiring, a TLS client
 * certificate and hands the peer chain to the app.
 *
 * Bun's own `Bun.serve` and its `node:https` do not expose the client certificate to handlers
 * (Bun 1.4.4). A `node:tls` server that passes each socket to a `node:http` server does, under
 * Bun and Deno alike. Everything runtime-specific about serving lives in this file.
 */
import { getRequestListener } from "@hono/node-server";
import { createServer as createHttpServer } from "node:http";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type PeerCertificate, type TLSSocket } from "node:tls";
import type { Bindings } from "../api/context.ts";
import { repairRequestLine } from "./request-line.ts";

/** TLS certificate chain and unencrypted private key, both PEM. */
export interface TlsCredentials {
  certPem: string;
  keyPem: string;
}

/** A running listener. */
export interface Listener {
  url: string;
  /** Swaps the TLS certificate for new connections; open connections keep theirs. */
  updateCredentials(credentials: TlsCredentials): void;
  /** Stops accepting connections and waits for open requests, at most `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** Error raised when the listener cannot bind. */
export class ListenError extends Error {
  override name = "ListenError";
}

/** Starts serving `fetch` over HTTPS on host:port; resolves once the port is bound. */
/** Connection time limits, in milliseconds. */
export interface ConnectionTimeouts {
  /** A connection that sends or receives nothing for this long is closed. */
  idleMs: number;
  /** A request must be received whole, headers and body, within this time. */
  requestMs: number;
}

/**
 * Defaults sized for Jami clients, which send small requests at once, and for browsers. They
 * stop a client that opens connections and trickles bytes from holding them forever.
 */
export const defaultTimeouts: ConnectionTimeouts = { idleMs: 30_000, requestMs: 60_000 };

export function listenTls(options: {
  host: string;
  port: number;
  credentials: TlsCredentials;
  fetch: (request: Request, bindings: Bindings) => Response | Promise<Response>;
  timeouts?: ConnectionTimeouts;
}): Promise<Listener> {
  const timeouts = options.timeouts ?? defaultTimeouts;
  const listener = getRequestListener(
    (request, env) => {
      const socket = (env as { incoming: { socket: TLSSocket } }).incoming.socket;
      return options.fetch(request, {
        peerCertificates: peerChain(socket),
        remoteAddress: socket.remoteAddress,
      });
    },
    // By default the adapter swaps the global Request and Response for its own lightweight
    // classes, which other servers in the same process (Bun.serve) then reject.
    { overrideGlobalObjects: false },
  );
  const http = createHttpServer((incoming, outgoing) => {
    incoming.url = collapseSlashes(incoming.url ?? "/");
    return listener(incoming, outgoing);
  });
  const deadlines = requestDeadlines(http, timeouts.requestMs);
  const tls = createTlsServer(
    {
      cert: options.credentials.certPem,
      key: options.credentials.keyPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
    },
    (socket) => {
      // Closes stalled connections, whatever state the request is in: an idle socket is one that
      // neither sent nor received anything, which a half-sent request also is.
      socket.setTimeout(timeouts.idleMs, () => socket.destroy());
      deadlines.waitForRequest(socket);
      repairFirstRequest(socket, () => http.emit("connection", socket));
    },
  );
  tls.on("tlsClientError", () => undefined);
  return new Promise((resolve, reject) => {
    tls.once("error", (error: NodeJS.ErrnoException) => {
      const address = `${options.host}:${options.port}`;
      const reason = error.code === "EADDRINUSE" ? "the address is already in use" : error.message;
      reject(new ListenError(`cannot listen on ${address}: ${reason}`));
    });
    tls.listen(options.port, options.host, () => {
      const bound = tls.address();
      const port = typeof bound === "object" && bound ? bound.port : options.port;
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      resolve({
        url: `https://${host}:${port}`,
        updateCredentials: (credentials) => tls.setSecureContext({ cert: credentials.certPem, key: credentials.keyPem }),
        close: (graceMs = 10_000) => closeServers(tls, http, graceMs),
      });
    });
  });
}

/**
 * Gives every request `requestMs` to arrive whole and get its response, so a client that trickles
 * a byte every few seconds cannot hold a connection open. The idle timeout does not catch that.
 * Node's server has `headersTimeout` and `requestTimeout` for this, but Bun's node:http
 * (1.4.4) does not apply them, so the deadline is kept here.
 */
function requestDeadlines(http: ReturnType<typeof createHttpServer>, requestMs: number) {
  const timers = new WeakMap<Duplex, ReturnType<typeof setTimeout>>();
  const arm = (socket: Duplex) => {
    const previous = timers.get(socket);
    if (previous === undefined) socket.once("close", () => clearTimeout(timers.get(socket)));
    clearTimeout(previous);
    timers.set(socket, setTimeout(() => socket.destroy(), requestMs));
  };
  http.on("request", (incoming, outgoing) => {
    // The headers are in, so the body and the response get a fresh deadline. Once the response
    // is sent, a keep-alive connection waits for its next request under a new one.
    arm(incoming.socket);
    outgoing.once("finish", () => arm(incoming.socket));
  });
  return { waitForRequest: arm };
}

/** Maximum length of the first request line the repair waits for; longer ones pass unchanged. */
const maxRequestLineBytes = 16 * 1024;

/**
 * Reads the start of a new connection up to the end of its first request line, repairs that
 * line, puts the bytes back and then hands the socket over.
 */
function repairFirstRequest(socket: TLSSocket, handOver: () => void): void {
  let buffered = Buffer.alloc(0);
  const onReadable = () => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      buffered = Buffer.concat([buffered, chunk]);
    }
    const end = buffered.indexOf("\r\n");
    if (end < 0 && buffered.length < maxRequestLineBytes && !socket.readableEnded) return;
    socket.off("readable", onReadable);
    const line = end < 0 ? buffered : repairRequestLine(buffered.subarray(0, end));
    socket.unshift(end < 0 ? buffered : Buffer.concat([line, buffered.subarray(end)]));
    handOver();
  };
  socket.on("readable", onReadable);
}

/**
 * Collapses repeated slashes in the path of a request target, so `//api/...` (a manager URL
 * typed with a trailing slash) reaches the same route as `/api/...`. The query is left alone.
 */
export function collapseSlashes(target: string): string {
  const query = target.indexOf("?");
  const path = query < 0 ? target : target.slice(0, query);
  return path.replace(/\/{2,}/g, "/") + (query < 0 ? "" : target.slice(query));
}

/** Returns the peer chain as DER, leaf first, or [] when the client sent no certificate. */
function peerChain(socket: TLSSocket): Uint8Array[] {
  const chain: Uint8Array[] = [];
  let certificate: PeerCertificate | undefined = socket.getPeerCertificate?.(true) as PeerCertificate | undefined;
  while (certificate?.raw && chain.length < 8) {
    chain.push(new Uint8Array(certificate.raw));
    const issuer = (certificate as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate;
    if (!issuer || issuer === certificate || issuer.raw?.equals(certificate.raw)) break;
    certificate = issuer;
  }
  return chain;
}

function closeServers(
  tls: ReturnType<typeof createTlsServer>,
  http: ReturnType<typeof createHttpServer>,
  graceMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      http.closeAllConnections?.();
      resolve();
    }, graceMs);
    http.closeIdleConnections?.();
    tls.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
