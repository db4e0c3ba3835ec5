/**
 * @module Tests of how the Jami-facing API treats bad input: enrollment with wrong credentials
 * or broken CSRs, the three login forms, bearer tokens, device revocation and the name server.
 * A Jami client shows every 4xx on enrollment as "invalid credentials" and treats a 401 on
 * login as a revoked device, so each case checks the exact status and error code, and that a
 * rejected enrollment stored nothing.
 *
 * The describe blocks share one installed server and run in file order: the rejected
 * enrollments run while alice has no account yet, and the later blocks use the devices that
 * "enrollment accepted forms" enrolls.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { sign } from "hono/jwt";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { maxCsrLength } from "../src/pki/csr.ts";
import { accounts, devices, users } from "../src/store/schema.ts";
import { issueToken, loadTokenSecret } from "../src/tokens/tokens.ts";
import { startServer, type TestServer } from "./support/server.ts";

/** A reply as the tests read it. `json` is undefined when the body is not JSON. */
interface Reply {
  status: number;
  text: string;
  // Typed loosely because the assertions read arbitrary members of the reply.
  json: any;
}

interface RequestOptions {
  /** Sent as JSON unless it is a string, which is sent as is. */
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
  /** TLS client certificate chain and key, both PEM. */
  clientCertificate?: { cert: string; key: string };
  /** Base URL to send to instead of the server's own, for lower-cased URL checks. */
  baseUrl?: string;
}

/** Every reply of this file, checked at the end for status 500 and for JSON error bodies. */
const replies: { request: string; reply: Reply }[] = [];

let server: TestServer;
let workDir: string;

const alice = { username: "alice", password: "alice-password" };
const bob = { username: "bob", password: "bob-password" };

/** Sends one request on a new connection, with `path` sent byte for byte as the request target. */
function send(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  const url = new URL(options.baseUrl ?? server.url);
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
    headers["Content-Length"] = String(Buffer.byteLength(payload));
  }
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  const tlsOptions = options.clientCertificate ?? {};
  return new Promise((resolve, reject) => {
    const request = https.request(
      { method, host: url.hostname, port: url.port, path, headers, ca: server.serverCa, agent: false, ...tlsOptions },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const reply: Reply = { status: response.statusCode ?? 0, text, json: parseJson(text) };
          replies.push({ request: `${method} ${path}`, reply });
          resolve(reply);
        });
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function basic(username: string, password: string): Record<string, string> {
  return { Authorization: "Basic " + Buffer.from(`${username}:${password}`, "utf8").toString("base64") };
}

/** Sends an enrollment with alice's Basic credentials unless `headers` replaces them. */
function enroll(body: unknown, headers: Record<string, string> = basic(alice.username, alice.password), path = "/api/auth/device") {
  return send("POST", path, { body, headers });
}

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: workDir, stdio: ["ignore", "ignore", "pipe"] });
}

function readWorkFile(name: string): string {
  return readFileSync(join(workDir, name), "utf8");
}

/** A device key and its CSR, both PEM, made by openssl. */
interface DeviceCsr {
  key: string;
  csr: string;
}

/** Makes a key and a CSR with subject CN=Jami device. `keyOptions` are the `genpkey` arguments. */
function makeCsr(name: string, keyOptions: string[], digest = "-sha256"): DeviceCsr {
  openssl("genpkey", ...keyOptions, "-out", `${name}.key`);
  const digestArgs = digest === "" ? [] : [digest];
  openssl("req", "-new", "-key", `${name}.key`, ...digestArgs, "-subj", "/CN=Jami device", "-out", `${name}.csr`);
  return { key: readWorkFile(`${name}.key`), csr: readWorkFile(`${name}.csr`) };
}

function makeRsaCsr(name: string, bits = 2048, digest = "-sha256"): DeviceCsr {
  return makeCsr(name, ["-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${bits}`], digest);
}

/** Returns the DER of a one-block PEM. */
function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");
}

function toPem(der: Buffer, label: string): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Returns `pem` with the byte at `offset` (negative counts from the end) inverted. */
function flipByte(pem: string, offset: number): string {
  const der = pemBody(pem);
  const index = offset < 0 ? der.length + offset : offset;
  der[index] = der[index]! ^ 0xff;
  return toPem(der, "CERTIFICATE REQUEST");
}

/** Counts a user's devices and accounts in the database. */
async function storedIdentity(username: string): Promise<{ devices: number; accounts: number }> {
  const { db } = server.store;
  const user = (await db.select().from(users).where(eq(users.username, username)))[0]!;
  const deviceRows = await db.select().from(devices).where(eq(devices.userId, user.id));
  const accountRows = await db.select().from(accounts).where(eq(accounts.userId, user.id));
  return { devices: deviceRows.length, accounts: accountRows.length };
}

/** An enrolled device: its key, the chain the server returned, and its 64-hex device id. */
interface EnrolledDevice {
  key: string;
  chain: string;
  deviceId: string;
}

/** Enrolls `csr` for `user` and returns the device, reading its id from the device list. */
async function enrollDevice(user: { username: string; password: string }, csr: DeviceCsr, name: string): Promise<EnrolledDevice> {
  const reply = await enroll({ csr: csr.csr, deviceName: name }, basic(user.username, user.password));
  expect(reply.status).toBe(200);
  const login = await send("POST", "/api/login", { body: {}, headers: basic(user.username, user.password) });
  const list = await send("GET", "/api/auth/devices", { token: login.json.access_token });
  const entry = list.json.find((device: { alias: string }) => device.alias === name);
  return { key: csr.key, chain: reply.json.certificateChain, deviceId: entry.deviceId };
}

let aliceDevice: EnrolledDevice;
let aliceCsr: DeviceCsr;
/** A device of alice that "revoked device rejections" revokes. */
let doomedDevice: EnrolledDevice;
let bobDevice: EnrolledDevice;
let enrollmentReply: Reply;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "jams-bad-input-"));
  server = await startServer({
    installed: true,
    users: { [alice.username]: alice.password, [bob.username]: bob.password },
  });
});

afterAll(async () => {
  await server.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe("enrollment rejects bad input", () => {
  let valid: DeviceCsr;

  beforeAll(() => {
    valid = makeRsaCsr("valid");
  });

  test("no Authorization header", async () => {
    const reply = await enroll({ csr: valid.csr }, {});
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("credentials_required");
  });

  test("wrong password", async () => {
    const reply = await enroll({ csr: valid.csr }, basic(alice.username, "wrong"));
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("invalid_credentials");
  });

  test("unknown user", async () => {
    const reply = await enroll({ csr: valid.csr }, basic("mallory", alice.password));
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("invalid_credentials");
  });

  test("Basic credentials not base64", async () => {
    const reply = await enroll({ csr: valid.csr }, { Authorization: "Basic !!not-base64!!" });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("Basic credentials without colon", async () => {
    const encoded = Buffer.from("alice-password").toString("base64");
    const reply = await enroll({ csr: valid.csr }, { Authorization: `Basic ${encoded}` });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("Basic credentials not UTF-8", async () => {
    const encoded = Buffer.from([0x61, 0xff, 0x3a, 0x70]).toString("base64");
    const reply = await enroll({ csr: valid.csr }, { Authorization: `Basic ${encoded}` });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("garbage bearer token", async () => {
    const reply = await enroll({ csr: valid.csr }, { Authorization: "Bearer garbage" });
    expect(reply.status).toBe(401);
  });

  test("csr missing", async () => {
    const reply = await enroll({ deviceName: "phone" });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("csr as a number", async () => {
    const reply = await enroll({ csr: 12345 });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("csr as an object", async () => {
    const reply = await enroll({ csr: { pem: valid.csr } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("csr is garbage text", async () => {
    const reply = await enroll({ csr: "garbage" });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("csr of 2 MB", async () => {
    // The body limit (64 KiB) applies before the CSR is read, so this is a 413, not a 400.
    const reply = await enroll({ csr: "A".repeat(2 * 1024 * 1024) });
    expect(reply.status).toBe(413);
    expect(reply.json.error).toBe("body_too_large");
  });

  test("csr above CSR length limit", async () => {
    const reply = await enroll({ csr: valid.csr + "\n".repeat(maxCsrLength) });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("csr signature byte flipped", async () => {
    const reply = await enroll({ csr: flipByte(valid.csr, -1) });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("csr subject byte flipped", async () => {
    // Offset 30 falls inside the subject, which the signature covers.
    const reply = await enroll({ csr: flipByte(valid.csr, 30) });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("csr truncated", async () => {
    const der = pemBody(valid.csr);
    const reply = await enroll({ csr: toPem(der.subarray(0, der.length - 40), "CERTIFICATE REQUEST") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("csr with bad base64", async () => {
    const reply = await enroll({ csr: valid.csr.replace(/\n[A-Za-z0-9+/]{10}/, "\n*not*base64") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("two CSR blocks", async () => {
    const reply = await enroll({ csr: valid.csr + valid.csr });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("certificate instead of CSR", async () => {
    const reply = await enroll({ csr: server.serverCa });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("EC P-256 CSR", async () => {
    const csr = makeCsr("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    const reply = await enroll({ csr: csr.csr });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("unsupported_key_type");
  });

  test("Ed25519 CSR", async () => {
    const csr = makeCsr("ed25519", ["-algorithm", "ED25519"], "");
    const reply = await enroll({ csr: csr.csr });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("unsupported_key_type");
  });

  test("RSA-PSS CSR", async () => {
    const csr = makeCsr("rsa-pss", ["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"]);
    const reply = await enroll({ csr: csr.csr });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("unsupported_key_type");
  });

  test("RSA 1024 CSR", async () => {
    const reply = await enroll({ csr: makeRsaCsr("rsa1024", 1024).csr });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("unsupported_key_type");
  });

  test("SHA-1 signed CSR", async () => {
    const reply = await enroll({ csr: makeRsaCsr("sha1", 2048, "-sha1").csr });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_csr");
  });

  test("junk JSON body", async () => {
    const reply = await enroll(`{"csr": "${valid.csr.slice(0, 40)}`);
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_json");
  });

  test("array JSON body", async () => {
    const reply = await enroll([{ csr: valid.csr }]);
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("rejected enrollments store nothing", async () => {
    expect(await storedIdentity(alice.username)).toEqual({ devices: 0, accounts: 0 });
  });

  test("alice has no registered name", async () => {
    const reply = await send("GET", "/api/nameserver/name/alice");
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("name_not_found");
  });
});

describe("enrollment accepted forms", () => {
  test("plain CERTIFICATE REQUEST label", async () => {
    aliceCsr = makeRsaCsr("plain-label");
    expect(aliceCsr.csr).toContain("-----BEGIN CERTIFICATE REQUEST-----");
    aliceDevice = await enrollDevice(alice, aliceCsr, "plain label");
  });

  test("NEW CERTIFICATE REQUEST label", async () => {
    const csr = makeRsaCsr("new-label");
    const relabelled = csr.csr.replaceAll("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST");
    enrollmentReply = await enroll({ csr: relabelled, deviceName: "new label" });
    expect(enrollmentReply.status).toBe(200);
  });

  test("CRLF line endings", async () => {
    const csr = makeRsaCsr("crlf");
    doomedDevice = await enrollDevice(alice, { key: csr.key, csr: csr.csr.replace(/\n/g, "\r\n") }, "crlf");
  });

  test("double-slash enrollment path", async () => {
    const reply = await enroll({ csr: makeRsaCsr("double-slash").csr, deviceName: "double slash" }, undefined, "//api/auth/device");
    expect(reply.status).toBe(200);
  });

  test("accepted forms are stored", async () => {
    expect(await storedIdentity(alice.username)).toEqual({ devices: 4, accounts: 1 });
  });

  test("bob enrolls one device", async () => {
    bobDevice = await enrollDevice(bob, makeRsaCsr("bob"), "bob phone");
    expect(bobDevice.deviceId).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("enrollment conflicts", () => {
  test("alice's key for bob", async () => {
    const reply = await enroll({ csr: aliceCsr.csr, deviceName: "stolen" }, basic(bob.username, bob.password));
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("device_key_in_use");
  });

  test("conflict stores nothing for bob", async () => {
    expect(await storedIdentity(bob.username)).toEqual({ devices: 1, accounts: 1 });
  });
});

describe("login rejects bad input", () => {
  let selfSigned: { cert: string; key: string };

  beforeAll(() => {
    openssl(
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self-signed.key",
      "-subj", "/CN=Jami device", "-days", "30", "-out", "self-signed.crt",
    );
    selfSigned = { cert: readWorkFile("self-signed.crt"), key: readWorkFile("self-signed.key") };
  });

  test("empty body without credentials", async () => {
    const reply = await send("POST", "/api/login", { body: {} });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("client_certificate_required");
  });

  test("no body without credentials", async () => {
    const reply = await send("POST", "/api/login");
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("client_certificate_required");
  });

  test("Basic and JSON credentials", async () => {
    const reply = await send("POST", "/api/login", { body: alice, headers: basic(alice.username, alice.password) });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("conflicting_credentials");
  });

  test("certificate and Basic credentials", async () => {
    const reply = await send("POST", "/api/login", {
      body: {},
      headers: basic(alice.username, alice.password),
      clientCertificate: { cert: aliceDevice.chain, key: aliceDevice.key },
    });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("conflicting_credentials");
  });

  test("self-signed cert naming alice's account", async () => {
    const { db } = server.store;
    const user = (await db.select().from(users).where(eq(users.username, alice.username)))[0]!;
    const accountId = (await db.select().from(accounts).where(eq(accounts.userId, user.id)))[0]!.accountId;
    openssl(
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "impostor.key",
      "-subj", `/CN=Jami device/UID=${accountId}`, "-days", "30", "-out", "impostor.crt",
    );
    const impostor = { cert: readWorkFile("impostor.crt"), key: readWorkFile("impostor.key") };
    const reply = await send("POST", "/api/login", { body: {}, clientCertificate: impostor });
    expect(reply.status).toBe(403);
    expect(reply.json.error).toBe("foreign_certificate");
  });

  test("self-signed client certificate", async () => {
    const reply = await send("POST", "/api/login", { body: {}, clientCertificate: selfSigned });
    expect(reply.status).toBe(403);
    expect(reply.json.error).toBe("foreign_certificate");
  });

  test("wrong Basic password", async () => {
    const reply = await send("POST", "/api/login", { body: {}, headers: basic(alice.username, "wrong") });
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("invalid_credentials");
  });

  test("wrong JSON password", async () => {
    const reply = await send("POST", "/api/login", { body: { username: alice.username, password: "wrong" } });
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("invalid_credentials");
  });

  test("unknown user", async () => {
    const reply = await send("POST", "/api/login", { body: { username: "mallory", password: "pw" } });
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("invalid_credentials");
  });

  test("JSON username not a string", async () => {
    const reply = await send("POST", "/api/login", { body: { username: 7, password: "pw" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("JSON password missing", async () => {
    const reply = await send("POST", "/api/login", { body: { username: alice.username } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("device certificate gets DEVICE token", async () => {
    const reply = await send("POST", "/api/login", { body: {}, clientCertificate: { cert: aliceDevice.chain, key: aliceDevice.key } });
    expect(reply.status).toBe(200);
    expect(reply.json.scope).toBe("DEVICE");
  });
});

describe("bearer routes reject bad tokens", () => {
  const badTokens: Record<string, () => Promise<string>> = {
    "garbage token": async () => "garbage",
    "other secret token": async () => {
      const token = await issueToken("another-secret", { sub: alice.username, uid: 2, scope: "USER" });
      return token.access_token;
    },
    "expired token": async () => {
      const secret = await loadTokenSecret(server.store);
      const past = Math.floor(Date.now() / 1000) - 3600;
      return sign({ sub: alice.username, uid: 2, scope: "USER", iat: past - 60, exp: past }, secret, "HS256");
    },
    "unsigned token": async () => {
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const exp = Math.floor(Date.now() / 1000) + 3600;
      return `${encode({ alg: "none", typ: "JWT" })}.${encode({ sub: alice.username, uid: 2, scope: "USER", exp })}.`;
    },
    "unknown user token": async () => {
      const token = await issueToken(await loadTokenSecret(server.store), { sub: "ghost", uid: 9999, scope: "USER" });
      return token.access_token;
    },
  };
  const routes = [
    ["GET", "/api/auth/devices"],
    ["GET", "/api/auth/policyData"],
    ["DELETE", `/api/auth/device/${"a".repeat(64)}`],
    ["POST", "/api/admin/user"],
  ] as const;

  for (const [method, path] of routes) {
    const label = path.replace(/[0-9a-f]{64}$/, "{id}");

    test(`${method} ${label} without token`, async () => {
      const reply = await send(method, path, { body: method === "POST" ? {} : undefined });
      expect(reply.status).toBe(401);
      expect(reply.json.error).toBe("not_authenticated");
    });

    for (const [name, makeToken] of Object.entries(badTokens)) {
      test(`${method} ${label} with ${name}`, async () => {
        const reply = await send(method, path, { token: await makeToken(), body: method === "POST" ? {} : undefined });
        expect(reply.status).toBe(401);
        expect(reply.json.error).toBe("not_authenticated");
      });
    }
  }

  test("Basic header on bearer route", async () => {
    const reply = await send("GET", "/api/auth/devices", { headers: basic(alice.username, alice.password) });
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("not_authenticated");
  });

  test("USER token on admin route", async () => {
    const login = await send("POST", "/api/login", { body: alice });
    const reply = await send("POST", "/api/admin/user", { token: login.json.access_token, body: { username: "x", password: "y" } });
    expect(reply.status).toBe(403);
    expect(reply.json.error).toBe("forbidden");
  });
});

describe("device revocation rejects bad input", () => {
  let userToken: string;
  let deviceToken: string;

  beforeAll(async () => {
    const userLogin = await send("POST", "/api/login", { body: {}, headers: basic(alice.username, alice.password) });
    userToken = userLogin.json.access_token;
    const deviceLogin = await send("POST", "/api/login", {
      body: {},
      clientCertificate: { cert: aliceDevice.chain, key: aliceDevice.key },
    });
    deviceToken = deviceLogin.json.access_token;
  });

  async function isRevoked(deviceId: string): Promise<boolean> {
    const row = (await server.store.db.select().from(devices).where(eq(devices.deviceId, deviceId)))[0]!;
    return row.revokedAt !== null;
  }

  test("DEVICE token cannot revoke", async () => {
    const reply = await send("DELETE", `/api/auth/device/${aliceDevice.deviceId}`, { token: deviceToken });
    expect(reply.status).toBe(403);
    expect(reply.json.error).toBe("forbidden");
    expect(await isRevoked(aliceDevice.deviceId)).toBe(false);
  });

  test("DEVICE token cannot enroll", async () => {
    const reply = await enroll({ csr: makeRsaCsr("device-token").csr }, { Authorization: `Bearer ${deviceToken}` });
    expect(reply.status).toBe(403);
    expect(reply.json.error).toBe("forbidden");
  });

  test("unknown device id", async () => {
    const reply = await send("DELETE", `/api/auth/device/${"0".repeat(64)}`, { token: userToken });
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("device_not_found");
  });

  test("another user's device", async () => {
    const reply = await send("DELETE", `/api/auth/device/${bobDevice.deviceId}`, { token: userToken });
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("device_not_found");
    expect(await isRevoked(bobDevice.deviceId)).toBe(false);
  });

  test("device id not hex", async () => {
    const reply = await send("DELETE", `/api/auth/device/${"z".repeat(64)}`, { token: userToken });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
    expect(reply.json.details.errorDetails).toBeTruthy();
  });

  test("device id too short", async () => {
    const reply = await send("DELETE", `/api/auth/device/${aliceDevice.deviceId.slice(0, 40)}`, { token: userToken });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("bob's device still logs in", async () => {
    const reply = await send("POST", "/api/login", { body: {}, clientCertificate: { cert: bobDevice.chain, key: bobDevice.key } });
    expect(reply.status).toBe(200);
    expect(reply.json.scope).toBe("DEVICE");
  });
});

describe("revoked device rejections", () => {
  let userToken: string;
  let staleDeviceToken: string;
  const doomedCertificate = () => ({ cert: doomedDevice.chain, key: doomedDevice.key });

  beforeAll(async () => {
    const deviceLogin = await send("POST", "/api/login", { body: {}, clientCertificate: doomedCertificate() });
    staleDeviceToken = deviceLogin.json.access_token;
    const userLogin = await send("POST", "/api/login", { body: {}, headers: basic(alice.username, alice.password) });
    userToken = userLogin.json.access_token;
    const revoked = await send("DELETE", `/api/auth/device/${doomedDevice.deviceId}`, { token: userToken });
    expect(revoked.status).toBe(200);
  });

  test("revoked device cannot log in", async () => {
    const reply = await send("POST", "/api/login", { body: {}, clientCertificate: doomedCertificate() });
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("device_revoked");
  });

  test("revoked device token is rejected", async () => {
    const reply = await send("GET", "/api/auth/devices", { token: staleDeviceToken });
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe("device_revoked");
  });

  test("revoked key cannot re-enroll", async () => {
    const csr = readWorkFile("crlf.csr");
    const reply = await enroll({ csr, deviceName: "again" });
    expect(reply.status).toBe(403);
    expect(reply.json.error).toBe("device_revoked");
  });

  test("device list marks it revoked", async () => {
    const reply = await send("GET", "/api/auth/devices", { token: userToken });
    const entry = reply.json.find((device: { deviceId: string }) => device.deviceId === doomedDevice.deviceId);
    expect(entry.revoked).toBe(true);
  });
});

describe("name server rejects bad input", () => {
  let accountId: string;

  beforeAll(async () => {
    const { db } = server.store;
    const user = (await db.select().from(users).where(eq(users.username, alice.username)))[0]!;
    accountId = (await db.select().from(accounts).where(eq(accounts.userId, user.id)))[0]!.accountId;
  });

  test("unknown name", async () => {
    const reply = await send("GET", "/api/nameserver/name/nobody");
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("name_not_found");
  });

  test("user without account", async () => {
    const reply = await send("GET", "/api/nameserver/name/admin");
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("name_not_found");
  });

  test("unknown address", async () => {
    const reply = await send("GET", `/api/nameserver/addr/${"0".repeat(40)}`);
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("address_not_found");
  });

  test("non-hex address", async () => {
    const reply = await send("GET", `/api/nameserver/addr/${"g".repeat(40)}`);
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_address");
  });

  test("address too short", async () => {
    const reply = await send("GET", `/api/nameserver/addr/${accountId.slice(0, 39)}`);
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_address");
  });

  test("name too long", async () => {
    const reply = await send("GET", `/api/nameserver/name/${"a".repeat(65)}`);
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_name");
  });

  test("name with control character", async () => {
    const reply = await send("GET", "/api/nameserver/name/ali%00ce");
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_name");
  });

  test("name with invalid percent-encoding", async () => {
    // NOTE: the server looks such a name up undecoded and returns 404, not 400 invalid_name.
    // The client reads any 4xx other than 400 as "not found", so only a 5xx or 2xx fails here.
    const reply = await send("GET", "/api/nameserver/name/%E9%ZZ");
    expect(reply.status).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
  });

  test("name lookup ignores letter case", async () => {
    const reply = await send("GET", "/api/nameserver/name/ALICE");
    expect(reply.status).toBe(200);
    expect(reply.json.name).toBe("alice");
  });

  test("plain name is found", async () => {
    const reply = await send("GET", "/api/nameserver/name/alice");
    expect(reply.status).toBe(200);
    expect(reply.json.addr.replace(/^0x/, "")).toBe(accountId);
  });

  test("percent-encoded name is found", async () => {
    const reply = await send("GET", "/api/nameserver/name/%61lice");
    expect(reply.status).toBe(200);
    expect(reply.json.name).toBe("alice");
  });

  test("0x-prefixed address is found", async () => {
    const reply = await send("GET", `/api/nameserver/addr/0x${accountId}`);
    expect(reply.status).toBe(200);
    expect(reply.json.name).toBe("alice");
  });

  test("upper-case address is found", async () => {
    const reply = await send("GET", `/api/nameserver/addr/${accountId.toUpperCase()}`);
    expect(reply.status).toBe(200);
    expect(reply.json.name).toBe("alice");
  });

  test("lower-cased name server URL", async () => {
    // The client appends a relative nameServer to the manager URL, then lower-cases it all.
    const nameServer: string = enrollmentReply.json.nameServer;
    const base = (nameServer.startsWith("/") ? server.url + nameServer : nameServer).toLowerCase();
    const prefix = new URL(base).pathname;
    const byAddress = await send("GET", `${prefix}/addr/${accountId}`, { baseUrl: base });
    expect(byAddress.status).toBe(200);
    expect(byAddress.json.name).toBe("alice");
    const byName = await send("GET", `${prefix}/name/alice`, { baseUrl: base });
    expect(byName.status).toBe(200);
  });
});

describe("unknown routes", () => {
  test("unknown API path", async () => {
    const reply = await send("GET", "/api/no-such-route");
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("not_found");
  });

  test("wrong method on known path", async () => {
    const reply = await send("PUT", "/api/auth/devices", { body: {} });
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("not_found");
  });

  test("unknown route has requestId", async () => {
    const reply = await send("GET", "/api/no-such-route");
    expect(typeof reply.json.requestId).toBe("string");
  });
});

describe("bad input replies", () => {
  test("failure cases outnumber happy ones", () => {
    const failures = replies.filter(({ reply }) => reply.status >= 400).length;
    const successes = replies.filter(({ reply }) => reply.status < 400).length;
    expect(failures).toBeGreaterThan(successes);
  });

  test("no reply has a 5xx status", () => {
    const failed = replies.filter(({ reply }) => reply.status >= 500).map(({ request }) => request);
    expect(failed).toEqual([]);
  });

  test("every error reply is JSON", () => {
    const errors = replies.filter(({ reply }) => reply.status >= 400);
    const notJson = errors.filter(({ reply }) => typeof reply.json?.error !== "string").map(({ request }) => request);
    expect(notJson).toEqual([]);
  });
});

// These run after the reply checks above, so that a failure here is reported once, by its own test.
describe("concurrent enrollment of one key", () => {
  let sameUser: Reply[];
  let twoUsers: Reply[];

  beforeAll(async () => {
    const body = { csr: makeRsaCsr("race-same-user").csr, deviceName: "race" };
    sameUser = await Promise.all([enroll(body), enroll(body)]);

    const contested = makeRsaCsr("race-two-users");
    const contestedBody = { csr: contested.csr, deviceName: "contested" };
    twoUsers = await Promise.all([enroll(contestedBody), enroll(contestedBody, basic(bob.username, bob.password))]);
  });

  test("same user gets no 5xx", () => {
    const serverErrors = sameUser.filter((reply) => reply.status >= 500).map((reply) => reply.json?.error);
    expect(serverErrors).toEqual([]);
  });

  test("same user key stored once", async () => {
    const login = await send("POST", "/api/login", { body: {}, headers: basic(alice.username, alice.password) });
    const list = await send("GET", "/api/auth/devices", { token: login.json.access_token });
    const named = list.json.filter((device: { alias: string }) => device.alias === "race");
    expect(named.length).toBe(1);
  });

  test("two users race one key", () => {
    const outcomes = twoUsers.map((reply) => `${reply.status} ${reply.json?.error ?? ""}`.trim()).sort();
    expect(outcomes).toEqual(["200", "409 device_key_in_use"]);
  });
});

