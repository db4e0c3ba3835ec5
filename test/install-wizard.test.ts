/**
 * @module Tests of the HTTP setup wizard (`/api/install/*`) on a fresh server: step order, the
 * wizard token, CA import and generation, settings validation, request-body limits, and the 404
 * every wizard route returns once setup is complete. Each rejected step must leave the server
 * where it was, so most failure cases also read `/api/info` or retry the step.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { maxBodyBytes } from "../src/api/app.ts";
import { startServer, type TestServer } from "./support/server.ts";

/** A reply as the tests read it. `json` is undefined when the body is not JSON. */
interface Reply {
  status: number;
  text: string;
  // Typed loosely because the assertions read arbitrary members of the reply.
  json: any;
}

/** Every reply of this file, checked at the end for status 500 and for JSON error bodies. */
const replies: { request: string; reply: Reply }[] = [];

/**
 * Sends one request on a new connection that trusts the server's certificate. `body` is sent
 * as JSON unless it is a string, which is sent as is.
 */
function send(
  server: TestServer,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<Reply> {
  const url = new URL(server.url);
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
    if (options.chunked) headers["Transfer-Encoding"] = "chunked";
    else headers["Content-Length"] = String(Buffer.byteLength(payload));
  }
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const request = https.request(
      { method, host: url.hostname, port: url.port, path, headers, ca: server.serverCa, agent: false },
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

/** Reads `/api/info`, which failure cases use to show that the setup step did not change. */
async function readInfo(server: TestServer): Promise<{ installed: boolean; setupStep: string }> {
  const reply = await send(server, "GET", "/api/info");
  expect(reply.status).toBe(200);
  return reply.json;
}

/** Runs `PUT /api/install/start` and returns the ADMIN token. */
async function startSetup(server: TestServer, username: string, password: string): Promise<string> {
  const reply = await send(server, "PUT", "/api/install/start", { body: { username, password } });
  expect(reply.status).toBe(200);
  return reply.json.access_token;
}

let fixtureDir: string;

function fixture(name: string): string {
  return join(fixtureDir, name);
}

function readFixture(name: string): string {
  return readFileSync(fixture(name), "utf8");
}

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: fixtureDir, stdio: ["ignore", "ignore", "pipe"] });
}

const caPassphrase = "ca key passphrase";

/**
 * Writes, with openssl: a CA (RSA 2048, basicConstraints critical CA:TRUE, keyUsage
 * keyCertSign and cRLSign), its key encrypted as PKCS#8, an unrelated key, and a TLS server
 * certificate issued by the CA with its own key.
 */
function createFixtures(): void {
  fixtureDir = mkdtempSync(join(tmpdir(), "jams-wizard-"));
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "ca.key");
  openssl(
    "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Imported Test CA", "-days", "30",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", "ca.crt",
  );
  openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", `pass:${caPassphrase}`, "-in", "ca.key", "-out", "ca.enc.key");
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.key");
  writeFileSync(fixture("leaf.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:jams.test\nextendedKeyUsage=serverAuth\n");
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "leaf.key");
  openssl("req", "-new", "-key", "leaf.key", "-subj", "/CN=jams.test", "-out", "leaf.csr");
  openssl(
    "x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "2",
    "-days", "30", "-extfile", "leaf.ext", "-out", "leaf.crt",
  );
  openssl(
    "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Signing-Only CA", "-days", "30",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,digitalSignature",
    "-out", "no-cert-sign.crt",
  );
  openssl("genpkey", "-algorithm", "ED25519", "-out", "ed25519.key");
  openssl(
    "req", "-x509", "-new", "-key", "ed25519.key", "-subj", "/CN=Ed25519 CA", "-days", "30",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", "ed25519.crt",
  );
  writeFileSync(fixture("two-certificates.crt"), readFixture("ca.crt") + readFixture("leaf.crt"));
}

beforeAll(createFixtures);

afterAll(() => {
  rmSync(fixtureDir, { recursive: true, force: true });
});

describe("install start", () => {
  let server: TestServer;
  let firstToken: string;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server.stop();
  });

  test("fresh server is not installed", async () => {
    const info = await readInfo(server);
    expect(info.installed).toBe(false);
    expect(info.setupStep).toBe("start");
  });

  test("start rejects invalid username", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: { username: "bad:name", password: "pw" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_username");
  });

  test("start rejects a short admin password", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: { username: "admin1", password: "short" } });
    expect(reply.status).toBe(400);
    expect(reply.json.message).toContain("at least 10 characters");
    expect((await readInfo(server)).setupStep).toBe("start");
  });

  test("start rejects missing password", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: { username: "admin1" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("start rejects junk JSON", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: '{"username": "admin1",' });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_json");
  });

  test("start rejects array body", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: [{ username: "admin1", password: "pw" }] });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("start rejects 100 KB body", async () => {
    const body = { username: "admin1", password: "x".repeat(100 * 1024) };
    const reply = await send(server, "PUT", "/api/install/start", { body });
    expect(reply.status).toBe(413);
    expect(reply.json.error).toBe("body_too_large");
    expect(reply.json.message).toContain(String(maxBodyBytes));
  });

  test("start rejects chunked 100 KB body", async () => {
    const body = { username: "admin1", password: "x".repeat(100 * 1024) };
    const reply = await send(server, "PUT", "/api/install/start", { body, chunked: true });
    expect(reply.status).toBe(413);
    expect(reply.json.error).toBe("body_too_large");
  });

  test("start rejects null body", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: "null" });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("enrollment before setup", async () => {
    const reply = await send(server, "POST", "/api/auth/device", {
      body: { csr: "x" },
      headers: { Authorization: "Basic " + Buffer.from("admin1:pw-one-long-enough").toString("base64") },
    });
    expect(reply.status).toBe(503);
    expect(reply.json.error).toBe("not_installed");
  });

  test("rejected starts persist nothing", async () => {
    const info = await readInfo(server);
    expect(info.installed).toBe(false);
    expect(info.setupStep).toBe("start");
  });

  test("start returns ADMIN token", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: { username: "admin1", password: "pw-one-long-enough" } });
    expect(reply.status).toBe(200);
    expect(reply.json.scope).toBe("ADMIN");
    expect(typeof reply.json.access_token).toBe("string");
    expect(reply.json.expires_in).toBeGreaterThan(0);
    firstToken = reply.json.access_token;
    expect((await readInfo(server)).setupStep).toBe("ca");
  });

  test("second start by other admin", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: { username: "admin2", password: "pw-two-long-enough" } });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("setup_in_progress");
  });

  test("second start with wrong password", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: { username: "admin1", password: "wrong" } });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("setup_in_progress");
  });

  test("second start without credentials", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: {} });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("setup_in_progress");
  });

  test("conflicting starts persist nothing", async () => {
    const info = await readInfo(server);
    expect(info.installed).toBe(false);
    expect(info.setupStep).toBe("ca");
    const login = await send(server, "POST", "/api/login", { body: { username: "admin2", password: "pw-two-long-enough" } });
    expect(login.status).toBe(401);
    expect(login.json.error).toBe("invalid_credentials");
  });

  test("same admin resumes setup", async () => {
    const reply = await send(server, "PUT", "/api/install/start", { body: { username: "admin1", password: "pw-one-long-enough" } });
    expect(reply.status).toBe(200);
    expect(reply.json.scope).toBe("ADMIN");
    expect(reply.json.access_token).not.toBe(firstToken);
    expect((await readInfo(server)).setupStep).toBe("ca");
  });

  test("resumed token passes authorization", async () => {
    const token = await startSetup(server, "admin1", "pw-one-long-enough");
    // A body the CA step rejects: a 400 (not 401 or 403) proves the token was accepted.
    const reply = await send(server, "POST", "/api/install/ca", { token, body: {} });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
  });
});

describe("install concurrent start", () => {
  let server: TestServer;
  let startReplies: Reply[];
  const names = ["first", "second", "third"];

  beforeAll(async () => {
    server = await startServer();
    startReplies = await Promise.all(
      names.map((name) => send(server, "PUT", "/api/install/start", { body: { username: name, password: `pw-${name}-long-enough` } })),
    );
  });

  afterAll(async () => {
    await server.stop();
  });

  test("one concurrent start wins", () => {
    const statuses = startReplies.map((reply) => reply.status).sort();
    expect(statuses).toEqual([200, 409, 409]);
  });

  test("only the winner is admin", async () => {
    const winner = names[startReplies.findIndex((reply) => reply.status === 200)]!;
    for (const name of names) {
      const login = await send(server, "POST", "/api/login", { body: { username: name, password: `pw-${name}-long-enough` } });
      expect(login.status).toBe(name === winner ? 200 : 401);
    }
  });

  test("losers get setup_in_progress", () => {
    const losers = startReplies.filter((reply) => reply.status === 409);
    expect(losers.map((reply) => reply.json.error)).toEqual(["setup_in_progress", "setup_in_progress"]);
  });
});

describe("install token checks", () => {
  let server: TestServer;
  let userToken: string;

  beforeAll(async () => {
    server = await startServer();
    await startSetup(server, "admin1", "pw-one-long-enough");
    // HTTP Basic login never grants ADMIN, so the wizard's own administrator gets a USER token.
    const login = await send(server, "POST", "/api/login", {
      body: {},
      headers: { Authorization: "Basic " + Buffer.from("admin1:pw-one-long-enough").toString("base64") },
    });
    expect(login.status).toBe(200);
    expect(login.json.scope).toBe("USER");
    userToken = login.json.access_token;
  });

  afterAll(async () => {
    await server.stop();
  });

  const steps = [
    { path: "/api/install/ca", body: { mode: "generate", fields: { commonName: "Test CA" } } },
    { path: "/api/install/auth", body: { type: "LOCAL" } },
    { path: "/api/install/settings", body: {} },
  ];

  for (const step of steps) {
    test(`${step.path} without token`, async () => {
      const reply = await send(server, "POST", step.path, { body: step.body });
      expect(reply.status).toBe(401);
      expect(reply.json.error).toBe("not_authenticated");
    });

    test(`${step.path} with garbage token`, async () => {
      const reply = await send(server, "POST", step.path, { body: step.body, token: "not.a.token" });
      expect(reply.status).toBe(401);
      expect(reply.json.error).toBe("not_authenticated");
    });

    test(`${step.path} with USER token`, async () => {
      const reply = await send(server, "POST", step.path, { body: step.body, token: userToken });
      expect(reply.status).toBe(403);
      expect(reply.json.error).toBe("forbidden");
    });
  }

  test("rejected tokens change nothing", async () => {
    const info = await readInfo(server);
    expect(info.installed).toBe(false);
    expect(info.setupStep).toBe("ca");
  });
});

describe("install CA step", () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startServer();
    token = await startSetup(server, "admin1", "pw-one-long-enough");
  });

  afterAll(async () => {
    await server.stop();
  });

  function postCa(body: unknown): Promise<Reply> {
    return send(server, "POST", "/api/install/ca", { token, body });
  }

  test("subject fields alone are rejected", async () => {
    const reply = await postCa({ fields: { commonName: "Test CA" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("certificate");
    expect(reply.json.message).toContain("certificate");
    expect(reply.json.message).toContain("missing");
  });

  test("settings before CA conflicts", async () => {
    const reply = await send(server, "POST", "/api/install/settings", { token, body: {} });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("step_out_of_order");
    expect(reply.json.details.nextStep).toBe("ca");
  });

  test("auth before CA conflicts", async () => {
    const reply = await send(server, "POST", "/api/install/auth", { token, body: { type: "LOCAL" } });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("step_out_of_order");
  });

  test("missing private key is named", async () => {
    const reply = await postCa({ certificate: readFixture("ca.crt") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("privateKey");
  });

  test("TLS leaf certificate is not a CA", async () => {
    const reply = await postCa({ certificate: readFixture("leaf.crt"), privateKey: readFixture("leaf.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("certificate");
    expect(reply.json.message).toContain("not a CA");
  });

  test("mismatched key names privateKey", async () => {
    const reply = await postCa({ certificate: readFixture("ca.crt"), privateKey: readFixture("other.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("privateKey");
    expect(reply.json.message).toContain("privateKey");
    expect(reply.json.message).toContain("does not match");
  });

  test("garbage certificate PEM", async () => {
    const garbage = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
    const reply = await postCa({ certificate: garbage, privateKey: readFixture("ca.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("certificate");
  });

  test("CA without keyCertSign usage", async () => {
    const reply = await postCa({ certificate: readFixture("no-cert-sign.crt"), privateKey: readFixture("ca.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.message).toContain("keyCertSign");
  });

  test("two certificates are rejected", async () => {
    const reply = await postCa({ certificate: readFixture("two-certificates.crt"), privateKey: readFixture("ca.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("certificate");
  });

  test("Ed25519 CA key is unsupported", async () => {
    const reply = await postCa({ certificate: readFixture("ed25519.crt"), privateKey: readFixture("ed25519.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("privateKey");
  });

  test("certificate that is not PEM", async () => {
    const reply = await postCa({ certificate: "hello", privateKey: readFixture("ca.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("certificate");
  });

  test("valid base64 that is not DER", async () => {
    const block = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    const reply = await postCa({ certificate: block, privateKey: readFixture("ca.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("certificate");
  });

  test("garbage private key PEM", async () => {
    const garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    const reply = await postCa({ certificate: readFixture("ca.crt"), privateKey: garbage });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("privateKey");
  });

  test("certificate given as a number", async () => {
    const reply = await postCa({ certificate: 42, privateKey: readFixture("ca.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("certificate");
  });

  test("encrypted key with wrong passphrase", async () => {
    const reply = await postCa({
      certificate: readFixture("ca.crt"),
      privateKey: readFixture("ca.enc.key"),
      passphrase: "wrong passphrase",
    });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("privateKey");
  });

  test("encrypted key without passphrase", async () => {
    const reply = await postCa({ certificate: readFixture("ca.crt"), privateKey: readFixture("ca.enc.key") });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("privateKey");
    expect(reply.json.message).toContain("passphrase");
  });

  test("unknown CA mode", async () => {
    const reply = await postCa({ mode: "borrow", fields: { commonName: "Test CA" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
  });

  test("generate without commonName", async () => {
    const reply = await postCa({ mode: "generate", fields: { organization: "Test" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("fields.commonName");
  });

  test("generate with invalid country", async () => {
    const reply = await postCa({ mode: "generate", fields: { commonName: "Test CA", country: "France" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_ca");
    expect(reply.json.details.field).toBe("fields.country");
  });

  test("rejected CA bodies persist nothing", async () => {
    const info = await readInfo(server);
    expect(info.installed).toBe(false);
    expect(info.setupStep).toBe("ca");
  });

  test("valid CA import succeeds", async () => {
    const reply = await postCa({ certificate: readFixture("ca.crt"), privateKey: readFixture("ca.key") });
    expect(reply.status).toBe(200);
    expect(reply.json.nextStep).toBe("auth");
    expect(reply.json.certificate).toContain("-----BEGIN CERTIFICATE-----");
    expect((await readInfo(server)).setupStep).toBe("auth");
  });

  test("encrypted CA import succeeds", async () => {
    const reply = await postCa({
      mode: "import",
      certificate: readFixture("ca.crt"),
      privateKey: readFixture("ca.enc.key"),
      passphrase: caPassphrase,
    });
    expect(reply.status).toBe(200);
    expect(reply.json.nextStep).toBe("auth");
  });

  test("settings before auth conflicts", async () => {
    const reply = await send(server, "POST", "/api/install/settings", { token, body: {} });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("step_out_of_order");
    expect(reply.json.details.nextStep).toBe("auth");
  });

  test("unknown auth type is unsupported", async () => {
    const reply = await send(server, "POST", "/api/install/auth", { token, body: { type: "KERBEROS" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("unsupported_auth_type");
    expect(reply.json.details.allowed).toEqual(["LOCAL", "LDAP", "AD"]);
  });

  test("LDAP without directory settings is rejected", async () => {
    const reply = await send(server, "POST", "/api/install/auth", { token, body: { type: "LDAP" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_settings");
  });

  test("missing auth type is rejected", async () => {
    const reply = await send(server, "POST", "/api/install/auth", { token, body: {} });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("unsupported_auth_type");
  });

  test("rejected auth persists nothing", async () => {
    expect((await readInfo(server)).setupStep).toBe("auth");
  });

  test("LOCAL auth type succeeds", async () => {
    const reply = await send(server, "POST", "/api/install/auth", { token, body: { type: "LOCAL" } });
    expect(reply.status).toBe(200);
    expect(reply.json.nextStep).toBe("settings");
    expect((await readInfo(server)).setupStep).toBe("settings");
  });
});

describe("install settings step", () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startServer();
    token = await startSetup(server, "admin1", "pw-one-long-enough");
    const ca = await send(server, "POST", "/api/install/ca", {
      token,
      body: { certificate: readFixture("ca.crt"), privateKey: readFixture("ca.key") },
    });
    expect(ca.status).toBe(200);
    const auth = await send(server, "POST", "/api/install/auth", { token, body: { type: "LOCAL" } });
    expect(auth.status).toBe(200);
  });

  afterAll(async () => {
    await server.stop();
  });

  /** Posts settings and returns the names of the fields the 400 lists. */
  async function rejectedFields(body: unknown): Promise<string[]> {
    const reply = await send(server, "POST", "/api/install/settings", { token, body });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_settings");
    return reply.json.details.fields.map((entry: { field: string }) => entry.field);
  }

  test("http serverDomain is rejected", async () => {
    expect(await rejectedFields({ serverDomain: "http://x" })).toEqual(["serverDomain"]);
  });

  test("non-URL serverDomain is rejected", async () => {
    expect(await rejectedFields({ serverDomain: "not a url" })).toEqual(["serverDomain"]);
  });

  test("serverDomain with query is rejected", async () => {
    expect(await rejectedFields({ serverDomain: "https://jams.example.org/?x=1" })).toEqual(["serverDomain"]);
  });

  test("text deviceLifetime is rejected", async () => {
    expect(await rejectedFields({ deviceLifetime: "abc" })).toEqual(["deviceLifetime"]);
  });

  test("zero userLifetime is rejected", async () => {
    expect(await rejectedFields({ userLifetime: 0 })).toEqual(["userLifetime"]);
  });

  test("string publicNameServer is rejected", async () => {
    expect(await rejectedFields({ publicNameServer: "yes" })).toEqual(["publicNameServer"]);
  });

  test("unknown settings key is named", async () => {
    const reply = await send(server, "POST", "/api/install/settings", { token, body: { signingAlgorithm: "MD5" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_settings");
    expect(reply.json.message).toContain("signingAlgorithm");
  });

  test("every invalid field is listed", async () => {
    const fields = await rejectedFields({ serverDomain: "http://x", deviceLifetime: "abc", crlLifetime: "soon" });
    expect(fields).toContain("serverDomain");
    expect(fields).toContain("deviceLifetime");
    expect(fields).toContain("crlLifetime");
  });

  test("settings array body is rejected", async () => {
    const reply = await send(server, "POST", "/api/install/settings", { token, body: [] });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_request");
  });

  test("settings junk JSON is rejected", async () => {
    const reply = await send(server, "POST", "/api/install/settings", { token, body: "{serverDomain: x}" });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_json");
  });

  test("settings 100 KB body is rejected", async () => {
    const body = { serverDomain: `https://jams.example.org/${"a".repeat(100 * 1024)}` };
    const reply = await send(server, "POST", "/api/install/settings", { token, body });
    expect(reply.status).toBe(413);
    expect(reply.json.error).toBe("body_too_large");
  });

  test("rejected settings persist nothing", async () => {
    const info = await readInfo(server);
    expect(info.installed).toBe(false);
    expect(info.setupStep).toBe("settings");
  });

  test("valid settings finish setup", async () => {
    const reply = await send(server, "POST", "/api/install/settings", {
      token,
      body: { serverDomain: "https://jams.example.org/", deviceLifetime: "90d", crlLifetime: 3_600_000 },
    });
    expect(reply.status).toBe(200);
    expect(reply.json.installed).toBe(true);
    expect(reply.json.settings.serverDomain).toBe("https://jams.example.org");
    expect(reply.json.settings.deviceLifetime).toBe(90 * 86_400_000);
    expect(reply.json.settings.crlLifetime).toBe(3_600_000);
    expect((await readInfo(server)).installed).toBe(true);
  });

  const closedRoutes = [
    ["PUT", "/api/install/start"],
    ["GET", "/api/install/start"],
    ["POST", "/api/install/ca"],
    ["POST", "/api/install/auth"],
    ["POST", "/api/install/settings"],
    ["GET", "/api/install/unknown"],
  ] as const;

  for (const [method, path] of closedRoutes) {
    test(`${method} ${path} after install`, async () => {
      const body = method === "GET" ? undefined : { username: "admin1", password: "pw-one-long-enough", type: "LOCAL" };
      const reply = await send(server, method, path, { token, body });
      expect(reply.status).toBe(404);
      expect(reply.json.error).toBe("already_installed");
      expect(reply.json.details.installed).toBe(true);
    });
  }

  test("closed wizard ignores missing token", async () => {
    const reply = await send(server, "POST", "/api/install/ca", { body: {} });
    expect(reply.status).toBe(404);
    expect(reply.json.details.installed).toBe(true);
  });
});

describe("install happy path", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server.stop();
  });

  test("generated CA completes setup", async () => {
    const token = await startSetup(server, "owner", "owner-password");

    const ca = await send(server, "POST", "/api/install/ca", {
      token,
      body: { mode: "generate", fields: { commonName: "Wizard CA", organization: "Example", country: "FR" } },
    });
    expect(ca.status).toBe(200);
    expect(ca.json.nextStep).toBe("auth");
    expect(ca.json.certificate).toContain("-----BEGIN CERTIFICATE-----");

    const auth = await send(server, "POST", "/api/install/auth", { token, body: { type: "LOCAL" } });
    expect(auth.status).toBe(200);

    const settings = await send(server, "POST", "/api/install/settings", { token, body: {} });
    expect(settings.status).toBe(200);
    expect(settings.json.installed).toBe(true);

    const info = await readInfo(server);
    expect(info.installed).toBe(true);
    expect(info.setupStep).toBe("done");
  });

  test("installed server is ready", async () => {
    const reply = await send(server, "GET", "/readyz");
    expect(reply.status).toBe(200);
    expect(reply.json.checks.setup).toBe("complete");
    expect(reply.json.checks.ca).toBe("ok");
  });

  test("wizard admin creates users", async () => {
    const login = await send(server, "POST", "/api/login", { body: { username: "owner", password: "owner-password" } });
    expect(login.status).toBe(200);
    expect(login.json.scope).toBe("ADMIN");

    const created = await send(server, "POST", "/api/admin/user", {
      token: login.json.access_token,
      body: { username: "user1", password: "user1-password" },
    });
    expect(created.status).toBe(201);
    expect(created.json.username).toBe("user1");
  });

  test("wizard token expires in 30 minutes", async () => {
    // Setup is closed now, so check the lifetime through a fresh wizard.
    const fresh = await startServer();
    try {
      const reply = await send(fresh, "PUT", "/api/install/start", { body: { username: "owner", password: "owner-password" } });
      expect(reply.status).toBe(200);
      expect(reply.json.expires_in).toBe(1800);
    } finally {
      await fresh.stop();
    }
  });
});

describe("install replies", () => {
  test("no reply is an internal error", () => {
    const internal = ({ reply }: { reply: Reply }) => reply.status === 500 || reply.json?.error === "internal_error";
    const failed = replies.filter(internal).map(({ request }) => request);
    expect(replies.length).toBeGreaterThan(50);
    expect(failed).toEqual([]);
  });

  test("every error reply is JSON", () => {
    const errors = replies.filter(({ reply }) => reply.status >= 400);
    const notJson = errors.filter(({ reply }) => typeof reply.json?.error !== "string").map(({ request }) => request);
    const noMessage = errors.filter(({ reply }) => typeof reply.json?.message !== "string").map(({ request }) => request);
    expect(notJson).toEqual([]);
    expect(noMessage).toEqual([]);
  });
});
