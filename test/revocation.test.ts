/**
 * Certificate lifecycle: revocation by the owner and by an admin, CRLs and OCSP checked with the
 * real openssl, lifetimes, expiry and re-enrollment, and revocation racing enrollments.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCa } from "../src/authority/ca.ts";
import { enrollDevice } from "../src/authority/enrollment.ts";
import { readInstallSettings } from "../src/install/setup.ts";
import { findUserByName } from "../src/users/users.ts";
import { bearerDelete, deviceLogin, enroll, makeDeviceKey, makeJamiCsr, userLogin, type DeviceKey } from "./support/jami-client.ts";
import { httpsRequest } from "./support/https.ts";
import { startServer, testAdmin, type TestServer } from "./support/server.ts";

const serverDomain = "https://jams.example.test";
let server: TestServer;
let folder: string;
let adminToken: string;

interface Enrolled {
  key: DeviceKey;
  chain: string[];
  reply: Record<string, string>;
}

function openssl(args: string[]): { status: number | null; output: string } {
  const result = spawnSync("openssl", args, { cwd: folder, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function splitChain(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
}

function save(name: string, content: string | Uint8Array): string {
  writeFileSync(join(folder, name), content);
  return name;
}

async function enrollNew(username: string, password: string, name: string): Promise<Enrolled> {
  const key = makeDeviceKey(2048);
  const reply = await enroll(server.url, server.serverCa, username, password, await makeJamiCsr(key), name);
  if (reply.status !== 200) throw new Error(`enrollment of ${name} failed: ${reply.status} ${reply.text}`);
  const json = reply.json as Record<string, string>;
  return { key, chain: splitChain(json.certificateChain!), reply: json };
}

async function fetchCrl(path: string): Promise<Buffer> {
  const reply = await httpsRequest(`${server.url}${path}`, server.serverCa);
  if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${reply.body.toString()}`);
  return reply.body;
}

function accountIdOf(device: Enrolled): string {
  return (JSON.parse(device.reply.deviceReceipt!) as { id: string }).id;
}

function crlNumber(file: string): number {
  const text = openssl(["crl", "-inform", "DER", "-in", file, "-noout", "-text"]).output;
  return Number(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(text)?.[1]);
}

/**
 * Asks the responder about `target` (issued by `issuer`) and returns openssl's verified reading
 * of the response: "Response verify OK" and the "Cert Status" lines. The check reads the request
 * back with -reqin so openssl compares the nonce it really sent.
 */
async function askOcsp(issuer: string, target: string[], nonce: boolean, via: "POST" | "GET" = "POST"): Promise<string> {
  const request = `req-${Math.random().toString(36).slice(2)}.der`;
  const args = ["ocsp", "-issuer", issuer, ...target, "-reqout", request];
  if (!nonce) args.push("-no_nonce");
  const made = openssl(args);
  if (made.status !== 0) throw new Error(`openssl ocsp -reqout failed: ${made.output}`);
  const der = Bun.file(join(folder, request));
  const body = new Uint8Array(await der.arrayBuffer());
  const reply =
    via === "POST"
      ? await httpsRequest(`${server.url}/api/ocsp`, server.serverCa, {
          method: "POST",
          body,
          headers: { "Content-Type": "application/ocsp-request" },
        })
      : await httpsRequest(`${server.url}/api/ocsp/${encodeURIComponent(Buffer.from(body).toString("base64"))}`, server.serverCa);
  expect(reply.status).toBe(200);
  expect(reply.headers["content-type"]).toBe("application/ocsp-response");
  const response = save(`${request}.resp`, reply.body);
  const check = ["ocsp", "-reqin", request, "-respin", response, "-CAfile", "ca.pem", "-resp_text"];
  if (!nonce) check.push("-no_nonce");
  return openssl(check).output;
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "jams-revocation-"));
  server = await startServer({
    installed: true,
    settings: { serverDomain, userLifetime: "30d", deviceLifetime: "365d", crlLifetime: "1h" },
    users: { dana: "dana-password", erin: "erin-password", frank: "frank-password" },
  });
  const login = await httpsRequest(`${server.url}/api/login`, server.serverCa, {
    method: "POST",
    body: JSON.stringify(testAdmin),
    headers: { "Content-Type": "application/json" },
  });
  adminToken = login.json().access_token;
  save("ca.pem", (await httpsRequest(`${server.url}/api/ca.pem`, server.serverCa)).body);
});

afterAll(async () => {
  await server?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe("issued certificates", () => {
  let device: Enrolled;

  beforeAll(async () => {
    device = await enrollNew("dana", "dana-password", "laptop");
  });

  test("device carries its account's CRL and OCSP URLs", () => {
    const text = openssl(["x509", "-in", save("dana-device.pem", device.chain[0]!), "-noout", "-text"]).output;
    expect(text).toContain(`URI:${serverDomain}/api/crl/account/${accountIdOf(device)}.crl`);
    expect(text).toContain(`OCSP - URI:${serverDomain}/api/ocsp`);
  });

  test("account carries the CA's CRL URL", () => {
    const text = openssl(["x509", "-in", save("dana-account.pem", device.chain[1]!), "-noout", "-text"]).output;
    expect(text).toContain(`URI:${serverDomain}/api/crl/ca.crl`);
  });

  test("device never outlives its account", async () => {
    const account = openssl(["x509", "-in", "dana-account.pem", "-noout", "-enddate"]).output;
    const deviceEnd = openssl(["x509", "-in", "dana-device.pem", "-noout", "-enddate"]).output;
    // The device lifetime (365d) is longer than the account's (30d), so it is cut to the account's end.
    expect(deviceEnd).toBe(account);
  });
});

describe("CRLs", () => {
  let device: Enrolled;

  beforeAll(async () => {
    device = await enrollNew("erin", "erin-password", "phone");
    save("erin-device.pem", device.chain[0]!);
    save("erin-account.pem", device.chain[1]!);
  });

  test("CA CRL verifies with the CA", async () => {
    save("ca.crl", await fetchCrl("/api/crl/ca.crl"));
    const result = openssl(["crl", "-inform", "DER", "-in", "ca.crl", "-CAfile", "ca.pem", "-noout", "-verify"]);
    expect(result.output).toContain("verify OK");
    expect(result.status).toBe(0);
  });

  test("PEM and DER forms hold the same CRL", async () => {
    const pem = (await fetchCrl("/api/crl/ca.pem")).toString();
    expect(pem.startsWith("-----BEGIN X509 CRL-----\n")).toBe(true);
    const der = await fetchCrl("/api/crl/ca.crl");
    expect(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64").equals(der)).toBe(true);
  });

  test("account CRL verifies with the account", async () => {
    save("erin.crl", await fetchCrl(`/api/crl/account/${accountIdOf(device)}.crl`));
    const result = openssl(["crl", "-inform", "DER", "-in", "erin.crl", "-CAfile", "erin-account.pem", "-noout", "-verify"]);
    expect(result.output).toContain("verify OK");
  });

  test("active device passes crl_check_all", () => {
    openssl(["crl", "-inform", "DER", "-in", "erin.crl", "-out", "erin-crl.pem"]);
    openssl(["crl", "-inform", "DER", "-in", "ca.crl", "-out", "ca-crl.pem"]);
    const result = openssl(["verify", "-crl_check_all", "-CAfile", "ca.pem", "-untrusted", "erin-account.pem",
      "-CRLfile", "erin-crl.pem", "-CRLfile", "ca-crl.pem", "erin-device.pem"]);
    expect(result.output).toContain("erin-device.pem: OK");
    expect(result.status).toBe(0);
  });

  test("revocation re-signs the account CRL at once", async () => {
    const before = crlNumber("erin.crl");
    const login = await userLogin(server.url, server.serverCa, "erin", "erin-password");
    const token = (login.json as { access_token: string }).access_token;
    const reply = await bearerDelete(server.url, server.serverCa, token, `/api/auth/device/${device.key.longId}`);
    expect(reply.status).toBe(200);
    save("erin2.crl", await fetchCrl(`/api/crl/account/${accountIdOf(device)}.crl`));
    expect(crlNumber("erin2.crl")).toBeGreaterThan(before);
    const serial = openssl(["x509", "-in", "erin-device.pem", "-noout", "-serial"]).output.split("=")[1]!.trim();
    const text = openssl(["crl", "-inform", "DER", "-in", "erin2.crl", "-noout", "-text"]).output;
    expect(text).toContain(`Serial Number: ${serial}`);
    expect(text).toContain("Cessation Of Operation");
  });

  test("revoked device fails crl_check", () => {
    openssl(["crl", "-inform", "DER", "-in", "erin2.crl", "-out", "erin2-crl.pem"]);
    const result = openssl(["verify", "-crl_check", "-CAfile", "ca.pem", "-untrusted", "erin-account.pem",
      "-CRLfile", "erin2-crl.pem", "erin-device.pem"]);
    expect(result.output).toContain("certificate revoked");
    expect(result.status).not.toBe(0);
  });

  test("CRL of an unknown account is 404", async () => {
    const reply = await httpsRequest(`${server.url}/api/crl/account/${"0".repeat(40)}.crl`, server.serverCa);
    expect(reply.status).toBe(404);
    expect(reply.json().error).toBe("not_found");
  });

  test("malformed CRL path is 404", async () => {
    const reply = await httpsRequest(`${server.url}/api/crl/account/xyz.crl`, server.serverCa);
    expect(reply.status).toBe(404);
  });
});

describe("OCSP", () => {
  let active: Enrolled;
  let revoked: Enrolled;

  beforeAll(async () => {
    active = await enrollNew("frank", "frank-password", "desk");
    revoked = await enrollNew("frank", "frank-password", "lost");
    save("frank-active.pem", active.chain[0]!);
    save("frank-lost.pem", revoked.chain[0]!);
    save("frank-account.pem", active.chain[1]!);
    const reply = await httpsRequest(`${server.url}/api/admin/device/${revoked.key.longId}?reason=keyCompromise`, server.serverCa, {
      method: "DELETE",
      token: adminToken,
    });
    expect(reply.status).toBe(200);
  });

  test("active device is good, with nonce", async () => {
    const output = await askOcsp("frank-account.pem", ["-cert", "frank-active.pem"], true);
    expect(output).toContain("Response verify OK");
    expect(output).toContain("Cert Status: good");
    expect(output).not.toContain("WARNING: no nonce");
    expect(output).toContain("OCSP Nonce");
  });

  test("active device is good, without nonce", async () => {
    const output = await askOcsp("frank-account.pem", ["-cert", "frank-active.pem"], false);
    expect(output).toContain("Response verify OK");
    expect(output).toContain("Cert Status: good");
  });

  test("revoked device is revoked with reason", async () => {
    const output = await askOcsp("frank-account.pem", ["-cert", "frank-lost.pem"], true);
    expect(output).toContain("Response verify OK");
    expect(output).toContain("Cert Status: revoked");
    expect(output).toContain("Revocation Reason: keyCompromise");
  });

  test("GET form answers like POST", async () => {
    const output = await askOcsp("frank-account.pem", ["-cert", "frank-lost.pem"], false, "GET");
    expect(output).toContain("Cert Status: revoked");
  });

  test("account certificate is good under the CA", async () => {
    const output = await askOcsp("ca.pem", ["-cert", "frank-account.pem"], true);
    expect(output).toContain("Response verify OK");
    expect(output).toContain("Cert Status: good");
  });

  test("serial the CA never issued is unknown", async () => {
    const output = await askOcsp("ca.pem", ["-serial", "0x1234567890"], true);
    expect(output).toContain("Response verify OK");
    expect(output).toContain("Cert Status: unknown");
  });

  test("foreign issuer is unauthorized", async () => {
    const output = await askOcsp("frank-active.pem", ["-serial", "0x42"], false);
    expect(output).toContain("unauthorized");
  });

  test("garbage request gets malformedRequest", async () => {
    const reply = await httpsRequest(`${server.url}/api/ocsp`, server.serverCa, { method: "POST", body: "not DER" });
    expect(reply.status).toBe(200);
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED (1 = malformedRequest) }
    expect([...reply.body]).toEqual([0x30, 0x03, 0x0a, 0x01, 0x01]);
  });

  test("empty POST is 400", async () => {
    const reply = await httpsRequest(`${server.url}/api/ocsp`, server.serverCa, { method: "POST", body: "" });
    expect(reply.status).toBe(400);
  });

  test("non-base64 GET is 400", async () => {
    const reply = await httpsRequest(`${server.url}/api/ocsp/%%%%`, server.serverCa);
    expect(reply.status).toBe(400);
  });
});

describe("revoking a user", () => {
  let device: Enrolled;

  beforeAll(async () => {
    device = await enrollNew("dana", "dana-password", "tablet");
    save("dana2-device.pem", device.chain[0]!);
    save("dana2-account.pem", device.chain[1]!);
  });

  test("revokes every device and the account", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/user/dana`, server.serverCa, { method: "DELETE", token: adminToken });
    expect(reply.status).toBe(200);
    expect(reply.json().revokedDevices).toBe(2);
  });

  test("account appears in the CA CRL", async () => {
    save("ca3.crl", await fetchCrl("/api/crl/ca.crl"));
    const serial = openssl(["x509", "-in", "dana2-account.pem", "-noout", "-serial"]).output.split("=")[1]!.trim();
    expect(openssl(["crl", "-inform", "DER", "-in", "ca3.crl", "-noout", "-text"]).output).toContain(`Serial Number: ${serial}`);
  });

  test("OCSP reports the account revoked", async () => {
    const output = await askOcsp("ca.pem", ["-cert", "dana2-account.pem"], true);
    expect(output).toContain("Response verify OK");
    expect(output).toContain("Cert Status: revoked");
  });

  test("device login is 401", async () => {
    const reply = await deviceLogin(server.url, server.serverCa, device.key.privateKeyPem, device.reply.certificateChain!);
    expect(reply.status).toBe(401);
  });

  test("user login is 403, not 401", async () => {
    const reply = await userLogin(server.url, server.serverCa, "dana", "dana-password");
    expect(reply.status).toBe(403);
    expect((reply.json as { error: string }).error).toBe("user_revoked");
  });

  test("new enrollment is 403", async () => {
    const reply = await enroll(server.url, server.serverCa, "dana", "dana-password", await makeJamiCsr(makeDeviceKey(2048)), "new");
    expect(reply.status).toBe(403);
    expect((reply.json as { error: string }).error).toBe("user_revoked");
  });

  test("username is not reused", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/user`, server.serverCa, {
      method: "POST",
      token: adminToken,
      body: JSON.stringify({ username: "DANA", password: "x" }),
    });
    expect(reply.status).toBe(409);
    expect(reply.json().message).toContain("not reused");
  });

  test("admin cannot revoke itself", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/user/${testAdmin.username}`, server.serverCa, { method: "DELETE", token: adminToken });
    expect(reply.status).toBe(409);
  });

  test("unknown user is 404", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/user/nobody`, server.serverCa, { method: "DELETE", token: adminToken });
    expect(reply.status).toBe(404);
  });

  test("bad reason is 400", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/user/erin?reason=bored`, server.serverCa, { method: "DELETE", token: adminToken });
    expect(reply.status).toBe(400);
  });

  test("USER token cannot revoke users", async () => {
    const login = await userLogin(server.url, server.serverCa, "frank", "frank-password");
    const token = (login.json as { access_token: string }).access_token;
    const reply = await httpsRequest(`${server.url}/api/admin/user/erin`, server.serverCa, { method: "DELETE", token });
    expect(reply.status).toBe(403);
  });
});

describe("admin lists", () => {
  test("devices filter by status", async () => {
    const revoked = (await httpsRequest(`${server.url}/api/admin/devices?status=revoked`, server.serverCa, { token: adminToken })).json();
    expect(revoked.devices.every((device: { status: string }) => device.status === "revoked")).toBe(true);
    expect(revoked.total).toBeGreaterThanOrEqual(4);
    const active = (await httpsRequest(`${server.url}/api/admin/devices?status=active&username=frank`, server.serverCa, { token: adminToken })).json();
    expect(active.devices.map((device: { name: string }) => device.name)).toEqual(["desk"]);
  });

  test("users show status and account", async () => {
    const list = (await httpsRequest(`${server.url}/api/admin/users`, server.serverCa, { token: adminToken })).json();
    const dana = list.users.find((user: { username: string }) => user.username === "dana");
    expect(dana.status).toBe("revoked");
    expect(dana.accountId).toMatch(/^[0-9a-f]{40}$/);
    expect(dana.devices).toBe(2);
    expect(JSON.stringify(list)).not.toContain("scrypt");
  });

  test("bad status filter is 400", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/devices?status=lost`, server.serverCa, { token: adminToken });
    expect(reply.status).toBe(400);
  });

  test("page size over the maximum is 400", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/users?limit=100000`, server.serverCa, { token: adminToken });
    expect(reply.status).toBe(400);
  });

  test("lists need an admin token", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/devices`, server.serverCa);
    expect(reply.status).toBe(401);
  });
});

describe("lifetimes and expiry", () => {
  const minute = 60_000;

  test("expired device re-enrolls with the same key", async () => {
    await httpsRequest(`${server.url}/api/admin/user`, server.serverCa, {
      method: "POST",
      token: adminToken,
      body: JSON.stringify({ username: "gina", password: "gina-password" }),
    });
    const user = (await findUserByName(server.store.db, "gina"))!;
    const settings = { ...(await readInstallSettings(server.store.db))!, deviceLifetime: minute };
    const ca = (await loadCa(server.store.db))!;
    const key = makeDeviceKey(2048);
    // Enrolled ten minutes ago with a one-minute lifetime: expired now.
    const old = await enrollDevice({ store: server.store, ca, settings, user, csr: await makeJamiCsr(key), deviceName: "old", now: new Date(Date.now() - 10 * minute) });
    const expiredLogin = await deviceLogin(server.url, server.serverCa, key.privateKeyPem, String(old.certificateChain));
    expect(expiredLogin.status).toBe(403);
    expect((expiredLogin.json as { error: string }).error).toBe("certificate_expired");

    const renewed = await enroll(server.url, server.serverCa, "gina", "gina-password", await makeJamiCsr(key), "old");
    expect(renewed.status).toBe(200);
    const chain = (renewed.json as { certificateChain: string }).certificateChain;
    const login = await deviceLogin(server.url, server.serverCa, key.privateKeyPem, chain);
    expect(login.status).toBe(200);
  });

  test("account renewal keeps the account id", async () => {
    const user = (await findUserByName(server.store.db, "gina"))!;
    const settings = (await readInstallSettings(server.store.db))!;
    const ca = (await loadCa(server.store.db))!;
    // Twenty-five days on, the 30-day account certificate is past two thirds of its life.
    const later = new Date(Date.now() + 25 * 86_400_000);
    const key = makeDeviceKey(2048);
    const reply = await enrollDevice({ store: server.store, ca, settings, user, csr: await makeJamiCsr(key), deviceName: "later", now: later });
    const receipt = JSON.parse(String(reply.deviceReceipt)) as { id: string };
    const chain = splitChain(String(reply.certificateChain));
    save("gina-account-renewed.pem", chain[1]!);
    const start = openssl(["x509", "-in", "gina-account-renewed.pem", "-noout", "-startdate"]).output;
    expect(new Date(start.split("=")[1]!).getTime()).toBeGreaterThan(Date.now() + 24 * 86_400_000);
    const names = await httpsRequest(`${server.url}/api/nameserver/name/gina`, server.serverCa);
    expect(receipt.id).toBe(names.json().addr);
  });
});

describe("revocation racing enrollments", () => {
  test("loses nothing and revokes the right serials", async () => {
    await httpsRequest(`${server.url}/api/admin/user`, server.serverCa, {
      method: "POST",
      token: adminToken,
      body: JSON.stringify({ username: "hank", password: "hank-password" }),
    });
    const first = await Promise.all([0, 1, 2].map((i) => enrollNew("hank", "hank-password", `old-${i}`)));
    const revocations = first.map((device) =>
      httpsRequest(`${server.url}/api/admin/device/${device.key.longId}`, server.serverCa, { method: "DELETE", token: adminToken }),
    );
    const enrollments = [0, 1, 2, 3].map((i) => enrollNew("hank", "hank-password", `new-${i}`));
    const [revoked, enrolled] = await Promise.all([Promise.all(revocations), Promise.all(enrollments)]);
    expect(revoked.map((reply) => reply.status)).toEqual([200, 200, 200]);

    save("hank.crl", await fetchCrl(`/api/crl/account/${accountIdOf(first[0]!)}.crl`));
    const text = openssl(["crl", "-inform", "DER", "-in", "hank.crl", "-noout", "-text"]).output;
    for (const device of first) {
      const serial = openssl(["x509", "-in", save(`hank-${device.key.shortId}.pem`, device.chain[0]!), "-noout", "-serial"]).output.split("=")[1]!.trim();
      expect(text).toContain(`Serial Number: ${serial}`);
    }
    for (const device of enrolled) {
      const serial = openssl(["x509", "-in", save(`hank-${device.key.shortId}.pem`, device.chain[0]!), "-noout", "-serial"]).output.split("=")[1]!.trim();
      expect(text).not.toContain(`Serial Number: ${serial}`);
      const login = await deviceLogin(server.url, server.serverCa, device.key.privateKeyPem, device.reply.certificateChain!);
      expect(login.status).toBe(200);
    }
    const list = (await httpsRequest(`${server.url}/api/admin/devices?username=hank`, server.serverCa, { token: adminToken })).json();
    expect(list.total).toBe(7);
  });
});
