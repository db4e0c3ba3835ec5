/**
 * @module Test helpers for the directory sources. They make a private TLS CA for directory
 * servers and run a real OpenLDAP server (`slapd`), seeded from LDIF, in a temporary folder on
 * free loopback ports. They also install an in-process appliance with a directory user source
 * through the HTTP setup wizard.
 *
 * slapd listens on `ldap://127.0.0.1:PORT` (StartTLS available) and `ldaps://127.0.0.1:PORT2`,
 * with a server certificate for IP 127.0.0.1 only, issued by a CA made for the test run.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import { startServer, type TestServer } from "./server.ts";
import { killOnTestProcessExit, stopChildProcess } from "./dbus.ts";

/** A CA and a server certificate made with openssl for a directory server. */
export interface DirectoryTls {
  dir: string;
  caFile: string;
  caPem: string;
  certFile: string;
  keyFile: string;
  /** A second CA that did not issue the server certificate, for "untrusted issuer" cases. */
  otherCaPem: string;
}

function openssl(dir: string, args: string[]): void {
  const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`);
}

/** Makes a private CA and a server certificate whose SAN is IP 127.0.0.1 only (no DNS name). */
export function makeDirectoryTls(dir: string): DirectoryTls {
  mkdirSync(dir, { recursive: true });
  const root = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"];
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Directory Test CA", "-days", "2", ...root]);
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-subj", "/CN=Unrelated CA", "-days", "2", ...root]);
  openssl(dir, ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=directory.test"]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl(dir, ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"]);
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    caPem: readFileSync(join(dir, "ca.crt"), "utf8"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
    otherCaPem: readFileSync(join(dir, "other.crt"), "utf8"),
  };
}


/** Resolves once something accepts TCP connections on 127.0.0.1:port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms: ${describe()}`);
    await Bun.sleep(100);
  }
}

/** The test directory's names. */
export const ldapBase = "dc=example,dc=test";
export const ldapPeople = `ou=people,${ldapBase}`;
export const ldapGroups = `ou=groups,${ldapBase}`;
export const ldapReader = { dn: `cn=reader,${ldapBase}`, password: "reader-secret" };

/** A running slapd. */
export interface Slapd {
  ldapUrl: string;
  ldapsUrl: string;
  ldapPort: number;
  ldapsPort: number;
  tls: DirectoryTls;
  /** The server's size limit for one search (soft and hard); paged searches may go past it. */
  sizeLimit: number;
  /** Stops slapd, keeping its database, so `start` can bring it back on the same ports. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops slapd and removes its folder. */
  remove(): Promise<void>;
  /** Runs ldapsearch as the root DN over StartTLS; returns exit status and output. */
  ldapsearch(args: string[]): { status: number | null; stdout: string; stderr: string };
}

/**
 * Starts slapd from a slapd.conf in a new temporary folder, after loading `ldif` with slapadd.
 * The root DN is `cn=admin,dc=example,dc=test` (password "admin-secret"); `cn=reader` is the
 * read-only lookup account. Throws when slapd does not accept connections within 10 s.
 */
export async function startSlapd(ldif: string, options: { sizeLimit?: number } = {}): Promise<Slapd> {
  const folder = mkdtempSync(join(tmpdir(), "jams-slapd-"));
  const tls = makeDirectoryTls(join(folder, "tls"));
  const sizeLimit = options.sizeLimit ?? 100;
  mkdirSync(join(folder, "db"));
  const config = join(folder, "slapd.conf");
  writeFileSync(
    config,
    [
      "include /etc/ldap/schema/core.schema",
      "include /etc/ldap/schema/cosine.schema",
      "include /etc/ldap/schema/inetorgperson.schema",
      "include /etc/ldap/schema/nis.schema",
      "modulepath /usr/lib/ldap",
      "moduleload back_mdb",
      `pidfile ${join(folder, "slapd.pid")}`,
      `TLSCACertificateFile ${tls.caFile}`,
      `TLSCertificateFile ${tls.certFile}`,
      `TLSCertificateKeyFile ${tls.keyFile}`,
      "database mdb",
      `suffix "${ldapBase}"`,
      `rootdn "cn=admin,${ldapBase}"`,
      "rootpw admin-secret",
      `directory ${join(folder, "db")}`,
      "maxsize 104857600",
      // Plain searches stop at the size limit; paged searches (prtotal) may read everything.
      `limits users size.soft=${sizeLimit} size.hard=${sizeLimit} size.prtotal=unlimited`,
      `limits anonymous size.soft=${sizeLimit} size.hard=${sizeLimit}`,
      "access to attrs=userPassword by self write by anonymous auth by * none",
      "access to * by users read by * none",
      "",
    ].join("\n"),
  );
  writeFileSync(join(folder, "seed.ldif"), ldif);
  const load = spawnSync("slapadd", ["-f", config, "-l", join(folder, "seed.ldif")], { encoding: "utf8" });
  if (load.status !== 0) throw new Error(`slapadd failed (${load.status}): ${load.stderr}`);

  const ldapPort = await freePort();
  const ldapsPort = await freePort();
  const ldapUrl = `ldap://127.0.0.1:${ldapPort}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  let child: ChildProcess | undefined;
  let forget: (() => void) | undefined;
  let output = "";

  const start = async () => {
    output = "";
    // -d 0 keeps slapd in the foreground so the test owns the process.
    child = spawn("slapd", ["-f", config, "-h", `${ldapUrl}/ ${ldapsUrl}/`, "-d", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    forget = killOnTestProcessExit(child);
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    let exited = false;
    child.once("exit", () => (exited = true));
    await waitForPort(ldapsPort, 10_000, () => `slapd ${exited ? "exited" : "is running"}; output: ${output}`);
    await waitForPort(ldapPort, 10_000, () => `slapd output: ${output}`);
  };
  const stop = async () => {
    if (!child) return;
    await stopChildProcess(child);
    forget?.();
    child = undefined;
  };
  await start();
  return {
    ldapUrl,
    ldapsUrl,
    ldapPort,
    ldapsPort,
    tls,
    sizeLimit,
    stop,
    start,
    remove: async () => {
      await stop();
      rmSync(folder, { recursive: true, force: true });
    },
    ldapsearch: (args) => {
      const result = spawnSync("ldapsearch", ["-x", "-ZZ", "-H", ldapUrl, "-D", ldapReader.dn, "-w", ldapReader.password, ...args], {
        encoding: "utf8",
        env: { ...process.env, LDAPTLS_CACERT: tls.caFile },
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
  };
}

/** Formats one LDIF attribute line, base64-encoding values that LDIF cannot carry as they are. */
export function ldifLine(attribute: string, value: string | Buffer): string {
  const text = typeof value === "string" ? value : undefined;
  const safe = text !== undefined && /^[\x01-\x09\x0b-\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b-\x0c\x0e-\x7f]*$/.test(text) && !text.endsWith(" ");
  if (safe) return `${attribute}: ${text}`;
  return `${attribute}:: ${Buffer.from(value).toString("base64")}`;
}

/** Formats one LDIF entry from a DN and attributes. */
export function ldapEntry(dn: string, attributes: Record<string, string | Buffer | (string | Buffer)[]>): string {
  const lines = [ldifLine("dn", dn)];
  for (const [name, value] of Object.entries(attributes)) {
    for (const item of Array.isArray(value) ? value : [value]) lines.push(ldifLine(name, item));
  }
  return lines.join("\n") + "\n\n";
}

// ---------------------------------------------------------------------------------------------
// The appliance, installed through the HTTP setup wizard with a directory source.

/** A reply as the directory tests read it. */
export interface ApiReply {
  status: number;
  // Typed loosely because the assertions read arbitrary members of the reply.
  json: any;
  text: string;
}

/** Sends one JSON request to the test server, trusting its certificate. */
export async function api(
  server: TestServer,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; basic?: { username: string; password: string } } = {},
): Promise<ApiReply> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.basic) {
    headers.Authorization = `Basic ${Buffer.from(`${options.basic.username}:${options.basic.password}`, "utf8").toString("base64")}`;
  }
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    tls: { ca: server.serverCa },
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** The administrator the directory tests create through the wizard. */
export const wizardAdmin = { username: "setup-admin", password: "setup-admin-password" };

/**
 * Starts an appliance and runs the setup wizard with `auth` as the user source. Returns the
 * server and the wizard's ADMIN token; throws with the reply when a step fails.
 */
export async function startDirectoryServer(auth: { type: "LDAP" | "AD"; settings: Record<string, unknown> }): Promise<{ server: TestServer; adminToken: string }> {
  const server = await startServer();
  const check = (step: string, reply: ApiReply) => {
    if (reply.status !== 200) throw new Error(`setup step ${step} failed with ${reply.status}: ${reply.text}`);
    return reply;
  };
  try {
    const start = check("start", await api(server, "PUT", "/api/install/start", { body: wizardAdmin }));
    const token = start.json.access_token as string;
    check("ca", await api(server, "POST", "/api/install/ca", { token, body: { mode: "generate", fields: { commonName: "Directory Test Org CA" } } }));
    check("auth", await api(server, "POST", "/api/install/auth", { token, body: auth }));
    check("settings", await api(server, "POST", "/api/install/settings", { token, body: {} }));
    return { server, adminToken: token };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** Logs in with JSON credentials and returns the access token, or throws with the reply. */
export async function loginToken(server: TestServer, username: string, password: string): Promise<string> {
  const reply = await api(server, "POST", "/api/login", { body: { username, password } });
  if (reply.status !== 200) throw new Error(`login as ${username} failed with ${reply.status}: ${reply.text}`);
  return reply.json.access_token as string;
}
