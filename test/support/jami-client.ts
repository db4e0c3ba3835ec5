/**
 * @module Test client that sends the same requests as the Jami daemon (libjami) to a JAMS
 * server: device key and CSR generation, jsoncpp-style JSON bodies, and the enrolment, login,
 * Bearer and name-server calls. It is written from the daemon's observable behaviour and
 * shares no code with the server under test.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, generateKeyPairSync, webcrypto } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";

/** OID of the LDAP `UID` (userid) attribute that the daemon puts in the CSR subject. */
export const UID_OID = "0.9.2342.19200300.100.1.1";

/** User-Agent of the daemon on JAMS calls (`PACKAGE_NAME (<platform>/<arch>)`). */
export const DAEMON_USER_AGENT = "Jami Daemon (linux/x86_64)";

/** User-Agent of the daemon on name-server lookups. */
export const NAME_SERVER_USER_AGENT = "Jami (linux/x86_64)";

/** A device RSA key pair with the two identifiers OpenDHT derives from its public key. */
export interface DeviceKey {
  /** Private key as unencrypted PKCS#8 PEM, as the daemon stores it in `ring_device.key`. */
  privateKeyPem: string;
  /** DER SubjectPublicKeyInfo of the public key. */
  spkiDer: Uint8Array;
  /** SHA-1 of the SPKI as 40 lowercase hex characters (OpenDHT `getId()`). */
  shortId: string;
  /** SHA-256 of the SPKI as 64 lowercase hex characters (OpenDHT `getLongId()`). */
  longId: string;
}

/** An HTTP reply as the tests see it. `json` is undefined when the body is not valid JSON. */
export interface JamiReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown | undefined;
}

/** PEM trust anchors for the server certificate, in any form that `tls.connect` accepts. */
export type TrustedCa = string | Buffer | Array<string | Buffer>;

/** Returns the OpenDHT short ID of a DER SPKI: SHA-1, 40 lowercase hex characters. */
export function spkiShortId(spkiDer: Uint8Array): string {
  return createHash("sha1").update(spkiDer).digest("hex");
}

/** Returns the OpenDHT long ID of a DER SPKI: SHA-256, 64 lowercase hex characters. */
export function spkiLongId(spkiDer: Uint8Array): string {
  return createHash("sha256").update(spkiDer).digest("hex");
}

/**
 * Generates an RSA device key with public exponent 65537. The daemon uses 4096 bits, and tests
 * that need speed may pass 2048.
 */
export function makeDeviceKey(bits = 4096): DeviceKey {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: bits,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const spkiDer = new Uint8Array(publicKey);
  return {
    privateKeyPem: privateKey,
    spkiDer,
    shortId: spkiShortId(spkiDer),
    longId: spkiLongId(spkiDer),
  };
}

/** Encodes DER bytes as PEM with 64-character lines, `\n` line endings and a trailing newline. */
export function derToPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Returns the DER content of the first PEM block of the input, whatever its label. */
export function pemToDer(pem: string): Uint8Array {
  const match = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(pem);
  if (!match || match[1] === undefined) {
    throw new Error("PEM input contains no BEGIN/END block");
  }
  return new Uint8Array(Buffer.from(match[1].replace(/\s+/g, ""), "base64"));
}

const RSA_PKCS1_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

async function importSigningKeyPair(key: DeviceKey): Promise<CryptoKeyPair> {
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey(
    "pkcs8",
    pemToDer(key.privateKeyPem),
    RSA_PKCS1_SHA256,
    false,
    ["sign"],
  );
  // The CSR generator exports the public key to build the request, so it must be extractable.
  const publicKey = await subtle.importKey("spki", key.spkiDer, RSA_PKCS1_SHA256, true, ["verify"]);
  return { privateKey, publicKey } as CryptoKeyPair;
}

/**
 * Builds the PKCS#10 request the daemon sends at enrolment: version v1, subject
 * `CN=Jami device` then `UID=<device short ID>` (one attribute per RDN, PrintableString values
 * as GnuTLS writes them), no attributes or extensions, signed with SHA-256 and RSA PKCS#1 v1.5.
 * The PEM uses GnuTLS's `NEW CERTIFICATE REQUEST` label.
 */
export async function makeJamiCsr(key: DeviceKey): Promise<string> {
  const keys = await importSigningKeyPair(key);
  const request = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: [{ CN: ["Jami device"] }, { [UID_OID]: [key.shortId] }],
      signingAlgorithm: RSA_PKCS1_SHA256,
      keys,
    },
    webcrypto as unknown as Crypto,
  );
  return derToPem(new Uint8Array(request.rawData), "NEW CERTIFICATE REQUEST");
}

/**
 * Serialises a value as jsoncpp 1.9's default `StreamWriterBuilder` does. The output uses tab
 * indentation, object keys sorted by their UTF-8 bytes and ` : ` between key and value. A nested
 * object or array starts on its own line, and empty containers are written as `{}` or `[]`.
 * Non-ASCII and control characters are escaped as lowercase `\uxxxx`, and there is no trailing
 * newline. Object members whose value is undefined or a function are skipped, as in
 * JSON.stringify.
 */
export function jsoncppStyle(value: unknown): string {
  return new JsoncppStyledWriter().write(value);
}

/** Port of jsoncpp's BuiltStyledStreamWriter with its default settings. */
class JsoncppStyledWriter {
  private output = "";
  private indentString = "";
  // True when the current line already has its indentation, as in jsoncpp's `indented_`.
  private indented = true;

  write(value: unknown): string {
    this.output = "";
    this.indentString = "";
    this.indented = true;
    this.writeValue(value);
    return this.output;
  }

  private writeValue(value: unknown): void {
    if (value === null || value === undefined) {
      this.output += "null";
    } else if (typeof value === "boolean") {
      this.output += value ? "true" : "false";
    } else if (typeof value === "number") {
      this.output += formatJsoncppNumber(value);
    } else if (typeof value === "bigint") {
      this.output += value.toString();
    } else if (typeof value === "string") {
      this.output += quoteJsoncppString(value);
    } else if (Array.isArray(value)) {
      this.writeArray(value);
    } else if (typeof value === "object") {
      this.writeObject(value as Record<string, unknown>);
    } else {
      throw new TypeError(`jsoncppStyle cannot serialise a value of type ${typeof value}`);
    }
  }

  private writeObject(object: Record<string, unknown>): void {
    const keys = Object.keys(object)
      .filter((key) => object[key] !== undefined && typeof object[key] !== "function")
      .sort(compareUtf8);
    if (keys.length === 0) {
      this.output += "{}";
      return;
    }
    this.writeWithIndent("{");
    this.indentString += "\t";
    keys.forEach((key, index) => {
      this.writeWithIndent(quoteJsoncppString(key));
      this.output += " : ";
      this.writeValue(object[key]);
      if (index < keys.length - 1) {
        this.output += ",";
      }
    });
    this.indentString = this.indentString.slice(0, -1);
    this.writeWithIndent("}");
  }

  private writeArray(array: unknown[]): void {
    if (array.length === 0) {
      this.output += "[]";
      return;
    }
    this.writeWithIndent("[");
    this.indentString += "\t";
    array.forEach((element, index) => {
      if (!this.indented) {
        this.writeIndent();
      }
      this.indented = true;
      this.writeValue(element);
      this.indented = false;
      if (index < array.length - 1) {
        this.output += ",";
      }
    });
    this.indentString = this.indentString.slice(0, -1);
    this.writeWithIndent("]");
  }

  private writeIndent(): void {
    this.output += "\n" + this.indentString;
  }

  private writeWithIndent(text: string): void {
    if (!this.indented) {
      this.writeIndent();
    }
    this.output += text;
    this.indented = false;
  }
}

function compareUtf8(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, "utf8"), Buffer.from(right, "utf8"));
}

function hex16(codeUnit: number): string {
  return "\\u" + codeUnit.toString(16).padStart(4, "0");
}

const JSONCPP_SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function quoteJsoncppString(text: string): string {
  let quoted = '"';
  for (const character of text) {
    const shortEscape = JSONCPP_SHORT_ESCAPES[character];
    const codePoint = character.codePointAt(0) ?? 0;
    if (shortEscape !== undefined) {
      quoted += shortEscape;
    } else if (codePoint < 0x20) {
      quoted += hex16(codePoint);
    } else if (codePoint < 0x80) {
      quoted += character;
    } else if (codePoint >= 0xd800 && codePoint <= 0xdfff) {
      // A lone surrogate has no UTF-8 form, and jsoncpp decodes an encoded surrogate as U+FFFD.
      quoted += hex16(0xfffd);
    } else if (codePoint < 0x10000) {
      quoted += hex16(codePoint);
    } else {
      const offset = codePoint - 0x10000;
      quoted += hex16(0xd800 + (offset >> 10)) + hex16(0xdc00 + (offset & 0x3ff));
    }
  }
  return quoted + '"';
}

/**
 * Formats a number as jsoncpp writes it. Integers below 2^63 are written as integers, because
 * the daemon stores them as Json::Int64. Other values follow jsoncpp's double format: `%.17g`,
 * then `.0` appended when neither `.` nor `e` appears, and `null`/`±1e+9999` for NaN and
 * infinities (useSpecialFloats is off by default).
 */
function formatJsoncppNumber(value: number): string {
  if (Number.isNaN(value)) {
    return "null";
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? "1e+9999" : "-1e+9999";
  }
  if (Number.isInteger(value) && Math.abs(value) < 2 ** 63) {
    return BigInt(value).toString();
  }
  const formatted = formatPercentG17(value);
  return /[.e]/.test(formatted) ? formatted : formatted + ".0";
}

/** Formats a finite number like C's `printf("%.17g")`. */
function formatPercentG17(value: number): string {
  const [mantissa = "0", exponentText = "0"] = Math.abs(value).toExponential(16).split("e");
  const exponent = Number(exponentText);
  const digits = mantissa.replace(".", "");
  const sign = value < 0 ? "-" : "";
  if (exponent < -4 || exponent >= 17) {
    const significand = trimFractionZeros(`${digits[0]}.${digits.slice(1)}`);
    const exponentSign = exponent < 0 ? "-" : "+";
    return `${sign}${significand}e${exponentSign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  if (exponent >= 0) {
    const fixed = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
    return sign + trimFractionZeros(fixed);
  }
  return sign + trimFractionZeros(`0.${"0".repeat(-exponent - 1)}${digits}`);
}

function trimFractionZeros(text: string): string {
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** Options of one daemon-style request. */
interface DaemonRequest {
  method: "GET" | "POST" | "DELETE";
  headers: Record<string, string>;
  body?: string;
  clientKeyPem?: string;
  clientChainPem?: string;
}

/**
 * Splits the request URL into origin and request target as the daemon builds it. The daemon
 * prefixes `https://` when the manager URI does not start with `http`. It appends the path by
 * plain string concatenation, so a base URL with a trailing `/` yields a `//api/...` target.
 */
export function buildManagerUrl(managerUri: string, path: string): { origin: URL; target: string } {
  const base = managerUri.startsWith("http") ? managerUri : `https://${managerUri}`;
  const full = base + path;
  const authorityStart = full.indexOf("://") + 3;
  const pathStart = full.indexOf("/", authorityStart);
  const origin = new URL(pathStart < 0 ? full : full.slice(0, pathStart));
  const target = pathStart < 0 ? "/" : full.slice(pathStart);
  return { origin, target };
}

/**
 * Sends one request on a fresh connection and collects the whole reply. Resolves for every
 * HTTP status and rejects only when no HTTP reply arrives (connection or TLS failure).
 *
 * NOTE: node:https rejects request targets with a raw space (ERR_UNESCAPED_CHARACTERS), so
 * the daemon's unencoded directory-search queries cannot be reproduced byte for byte here.
 */
function sendDaemonRequest(
  managerUri: string,
  ca: TrustedCa,
  path: string,
  request: DaemonRequest,
): Promise<JamiReply> {
  const { origin, target } = buildManagerUrl(managerUri, path);
  const headers: Record<string, string> = { ...request.headers };
  if (request.body !== undefined) {
    headers["Content-Length"] = String(Buffer.byteLength(request.body, "utf8"));
  }
  const isHttps = origin.protocol === "https:";
  const options: https.RequestOptions = {
    method: request.method,
    host: origin.hostname.replace(/^\[|\]$/g, ""),
    port: origin.port || (isHttps ? 443 : 80),
    path: target,
    headers,
    agent: false,
  };
  if (isHttps) {
    options.ca = ca;
    // SNI carries host names only, as RFC 6066 forbids IP addresses in it.
    if (isIP(options.host as string) === 0) {
      options.servername = origin.hostname;
    }
    if (request.clientKeyPem !== undefined && request.clientChainPem !== undefined) {
      options.key = request.clientKeyPem;
      options.cert = request.clientChainPem;
    }
  }
  const transport = isHttps ? https : http;
  return new Promise<JamiReply>((resolve, reject) => {
    const clientRequest = transport.request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text,
          json: parseJsonOrUndefined(text),
        });
      });
    });
    clientRequest.on("error", reject);
    clientRequest.end(request.body);
  });
}

function parseJsonOrUndefined(text: string): unknown | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Returns the daemon's Basic credentials: standard padded base64 of the UTF-8 `user:password`. */
export function basicAuthorization(username: string, password: string): string {
  return "Basic " + Buffer.from(`${username}:${password}`, "utf8").toString("base64");
}

function jsonBodyHeaders(): Record<string, string> {
  return {
    "Content-Type": "application/json",
    Accept: "application/json",
    "User-Agent": DAEMON_USER_AGENT,
    Connection: "close",
  };
}

function bodylessHeaders(): Record<string, string> {
  return {
    Accept: "application/json",
    "User-Agent": DAEMON_USER_AGENT,
    Connection: "close",
  };
}

/**
 * Sends the enrolment request: `POST /api/auth/device` with Basic credentials and the body
 * `{csr, deviceName}` in jsoncpp style. No client certificate is presented.
 */
export function enroll(
  baseUrl: string,
  ca: TrustedCa,
  username: string,
  password: string,
  csrPem: string,
  deviceName: string,
): Promise<JamiReply> {
  return sendDaemonRequest(baseUrl, ca, "/api/auth/device", {
    method: "POST",
    headers: { ...jsonBodyHeaders(), Authorization: basicAuthorization(username, password) },
    body: jsoncppStyle({ csr: csrPem, deviceName }),
  });
}

/**
 * Sends the device login: `POST /api/login` with the body `{}`, no Authorization header, and
 * the TLS client certificate chain (device, account, CA, as stored by the daemon).
 */
export function deviceLogin(
  baseUrl: string,
  ca: TrustedCa,
  keyPem: string,
  chainPem: string,
): Promise<JamiReply> {
  return sendDaemonRequest(baseUrl, ca, "/api/login", {
    method: "POST",
    headers: jsonBodyHeaders(),
    body: jsoncppStyle({}),
    clientKeyPem: keyPem,
    clientChainPem: chainPem,
  });
}

/** Sends the user login: `POST /api/login` with the body `{}` and Basic credentials. */
export function userLogin(
  baseUrl: string,
  ca: TrustedCa,
  username: string,
  password: string,
): Promise<JamiReply> {
  return sendDaemonRequest(baseUrl, ca, "/api/login", {
    method: "POST",
    headers: { ...jsonBodyHeaders(), Authorization: basicAuthorization(username, password) },
    body: jsoncppStyle({}),
  });
}

function bearerAuthorization(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** Sends a Bearer GET (no body, no Content-Type), as for `/api/auth/policyData`. */
export function bearerGet(baseUrl: string, ca: TrustedCa, token: string, path: string): Promise<JamiReply> {
  return sendDaemonRequest(baseUrl, ca, path, {
    method: "GET",
    headers: { ...bodylessHeaders(), ...bearerAuthorization(token) },
  });
}

/** Sends a Bearer POST with a jsoncpp-style JSON body, as for the sync endpoints. */
export function bearerPost(
  baseUrl: string,
  ca: TrustedCa,
  token: string,
  path: string,
  body: unknown,
): Promise<JamiReply> {
  return sendDaemonRequest(baseUrl, ca, path, {
    method: "POST",
    headers: { ...jsonBodyHeaders(), ...bearerAuthorization(token) },
    body: jsoncppStyle(body),
  });
}

/** Sends a Bearer DELETE without a body, as for `/api/auth/device/<long ID>`. */
export function bearerDelete(baseUrl: string, ca: TrustedCa, token: string, path: string): Promise<JamiReply> {
  return sendDaemonRequest(baseUrl, ca, path, {
    method: "DELETE",
    headers: { ...bodylessHeaders(), ...bearerAuthorization(token) },
  });
}

/**
 * Resolves the name-server URL from the enrolment reply as the daemon does. A value starting
 * with `/` is appended to the manager URI. Then the whole URL is lower-cased, `https://` is
 * prefixed when no scheme is present, and one trailing `/` is removed.
 */
export function resolveNameServerUrl(managerUri: string, nameServer: string): string {
  let url = nameServer.startsWith("/") ? managerUri + nameServer : nameServer;
  url = url.toLowerCase();
  if (!url.includes("://")) {
    url = `https://${url}`;
  }
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

/**
 * Percent-encodes a registered name as the daemon does: every byte of its UTF-8 form except
 * ASCII letters, digits and `-_.~` becomes `%XX` with uppercase hex.
 */
export function encodeNameForLookup(name: string): string {
  let encoded = "";
  for (const byte of Buffer.from(name, "utf8")) {
    const character = String.fromCharCode(byte);
    encoded += /[A-Za-z0-9\-_.~]/.test(character)
      ? character
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return encoded;
}

function nameServerGet(nameServerUrl: string, ca: TrustedCa, path: string): Promise<JamiReply> {
  return sendDaemonRequest(nameServerUrl, ca, path, {
    method: "GET",
    headers: {
      "User-Agent": NAME_SERVER_USER_AGENT,
      Accept: "*/*",
      "Content-Type": "application/json",
      Connection: "close",
    },
  });
}

/** Sends the daemon's name lookup `GET <ns>/name/<encoded name>` without Authorization. */
export function lookupName(nameServerUrl: string, ca: TrustedCa, name: string): Promise<JamiReply> {
  return nameServerGet(nameServerUrl, ca, `/name/${encodeNameForLookup(name)}`);
}

/** Sends the daemon's address lookup `GET <ns>/addr/<address>` without Authorization. */
export function lookupAddress(nameServerUrl: string, ca: TrustedCa, address: string): Promise<JamiReply> {
  return nameServerGet(nameServerUrl, ca, `/addr/${address}`);
}
