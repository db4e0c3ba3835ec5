/** Changing the server parameters after setup through `PUT /api/admin/settings`. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { enroll, makeDeviceKey, makeJamiCsr, userLogin } from "./support/jami-client.ts";
import { httpsRequest } from "./support/https.ts";
import { startServer, testAdmin, type TestServer } from "./support/server.ts";

let server: TestServer;
let adminToken: string;

function put(body: unknown, token = adminToken) {
  return httpsRequest(`${server.url}/api/admin/settings`, server.serverCa, {
    method: "PUT",
    token,
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "Content-Type": "application/json" },
  });
}

async function settings() {
  return (await httpsRequest(`${server.url}/api/admin/settings`, server.serverCa, { token: adminToken })).json().settings;
}

beforeAll(async () => {
  server = await startServer({ installed: true, settings: { deviceLifetime: "365d" }, users: { ivan: "ivan-password" } });
  const login = await httpsRequest(`${server.url}/api/login`, server.serverCa, {
    method: "POST",
    body: JSON.stringify(testAdmin),
    headers: { "Content-Type": "application/json" },
  });
  adminToken = login.json().access_token;
});

afterAll(async () => {
  await server?.stop();
});

describe("changing server parameters", () => {
  test("new values are stored and returned", async () => {
    const reply = await put({ serverDomain: "https://jams.example.test/", deviceLifetime: "30d" });
    expect(reply.status).toBe(200);
    expect(reply.json().settings.serverDomain).toBe("https://jams.example.test");
    expect(reply.json().nameServer).toBe("https://jams.example.test/api/nameserver");
    expect((await settings()).deviceLifetime).toBe(30 * 86_400_000);
  });

  test("members left out keep their value", async () => {
    await put({ crlLifetime: "2h" });
    const current = await settings();
    expect(current.crlLifetime).toBe(7_200_000);
    expect(current.deviceLifetime).toBe(30 * 86_400_000);
  });

  test("new enrollments use the new values", async () => {
    const reply = await enroll(server.url, server.serverCa, "ivan", "ivan-password", await makeJamiCsr(makeDeviceKey(2048)), "d");
    const json = reply.json as { certificateChain: string; nameServer: string };
    expect(json.nameServer).toBe("https://jams.example.test/api/nameserver");
    const device = new X509Certificate(json.certificateChain.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n");
    const days = (new Date(device.validTo).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);
    expect(device.infoAccess).toContain("https://jams.example.test/api/ocsp");
  });

  test("null removes the server domain", async () => {
    const reply = await put({ serverDomain: null });
    expect(reply.status).toBe(200);
    expect(reply.json().settings.serverDomain).toBeUndefined();
  });
});

describe("rejected changes", () => {
  const cases: [string, unknown][] = [
    ["plain http domain", { serverDomain: "http://jams.example.test" }],
    ["lifetime as text", { deviceLifetime: "forever" }],
    ["lifetime under a minute", { crlLifetime: "10s" }],
    ["unknown member", { signingAlgorithm: "SHA1WITHRSA" }],
    ["boolean as a string", { publicNameServer: "yes" }],
  ];
  for (const [name, body] of cases) {
    test(`${name} is 400 and changes nothing`, async () => {
      const before = await settings();
      const reply = await put(body);
      expect(reply.status).toBe(400);
      expect(reply.json().error).toBe("invalid_settings");
      expect(await settings()).toEqual(before);
    });
  }

  test("junk JSON is 400", async () => {
    const reply = await put("{not json");
    expect(reply.status).toBe(400);
    expect(reply.json().error).toBe("invalid_json");
  });

  test("a USER token is 403", async () => {
    const login = await userLogin(server.url, server.serverCa, "ivan", "ivan-password");
    const reply = await put({ crlLifetime: "3h" }, (login.json as { access_token: string }).access_token);
    expect(reply.status).toBe(403);
  });

  test("no token is 401", async () => {
    const reply = await httpsRequest(`${server.url}/api/admin/settings`, server.serverCa, { method: "PUT", body: "{}" });
    expect(reply.status).toBe(401);
  });
});
