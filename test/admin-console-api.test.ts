/**
 * @module Tests of the API routes added for the admin console: the dashboard summary
 * (`/api/admin/stats`), recent warnings and errors (`/api/admin/events`), one user's details and
 * password reset (`/api/admin/user/{name}`), and the server parameters (`/api/admin/settings`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { logger, setLogLevel } from "../src/log/logger.ts";
import { clearRecentEvents } from "../src/log/recent-events.ts";
import { users } from "../src/store/schema.ts";
import { enroll, makeDeviceKey, makeJamiCsr } from "./support/jami-client.ts";
import { startServer, testAdmin, type TestServer } from "./support/server.ts";

let server: TestServer;
let adminToken: string;

interface Reply {
  status: number;
  // Typed loosely because the assertions read arbitrary members of the reply.
  json: any;
}

async function call(method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    tls: { ca: server.serverCa },
  });
  return { status: response.status, json: await response.json() };
}

async function login(username: string, password: string): Promise<Reply> {
  return call("POST", "/api/login", { body: { username, password } });
}

beforeAll(async () => {
  server = await startServer({
    installed: true,
    settings: { serverDomain: "https://jams.example.org", deviceLifetime: "90d" },
    users: { alice: "alice password", bob: "bob password" },
  });
  adminToken = (await login(testAdmin.username, testAdmin.password)).json.access_token;
  const key = makeDeviceKey(2048);
  const reply = await enroll(server.url, server.serverCa, "alice", "alice password", await makeJamiCsr(key), "phone");
  expect(reply.status).toBe(200);
  await server.store.write((tx) =>
    tx.insert(users).values({ username: "dirk", source: "ldap", passwordHash: null, createdAt: Date.now() }),
  );
}, 30_000);

afterAll(async () => {
  await server.stop();
});

describe("admin routes need an admin token", () => {
  const routes: [string, string][] = [
    ["GET", "/api/admin/stats"],
    ["GET", "/api/admin/events"],
    ["GET", "/api/admin/settings"],
    ["GET", "/api/admin/user/alice"],
    ["PUT", "/api/admin/user/alice"],
  ];

  test("fail/no token is 401", async () => {
    for (const [method, path] of routes) {
      const reply = await call(method, path, method === "PUT" ? { body: { password: "x" } } : {});
      expect({ path, status: reply.status, error: reply.json.error }).toEqual({ path, status: 401, error: "not_authenticated" });
    }
  });

  test("fail/user token is 403", async () => {
    const token = (await login("bob", "bob password")).json.access_token;
    for (const [method, path] of routes) {
      const reply = await call(method, path, { token, ...(method === "PUT" ? { body: { password: "x" } } : {}) });
      expect({ path, status: reply.status }).toEqual({ path, status: 403 });
    }
  });
});

describe("stats", () => {
  test("ok/counts users and devices", async () => {
    const reply = await call("GET", "/api/admin/stats", { token: adminToken });
    expect(reply.status).toBe(200);
    expect(reply.json.users).toEqual({ total: 4, active: 4, disabled: 0, revoked: 0 });
    expect(reply.json.devices).toEqual({ total: 1, active: 1, revoked: 0, expired: 0 });
  });

  test("ok/enrollments per day end today", async () => {
    const { json } = await call("GET", "/api/admin/stats", { token: adminToken });
    expect(json.enrollmentsPerDay).toHaveLength(30);
    const today = new Date().toISOString().slice(0, 10);
    expect(json.enrollmentsPerDay.at(-1)).toEqual({ date: today, count: 1 });
    expect(json.enrollmentsPerDay.slice(0, -1).every((day: { count: number }) => day.count === 0)).toBe(true);
  });

  test("ok/ca validity", async () => {
    const { json } = await call("GET", "/api/admin/stats", { token: adminToken });
    expect(json.ca.subject).toContain("CN=Test Organisation CA");
    expect(new Date(json.ca.notAfter).getTime()).toBeGreaterThan(Date.now());
    expect(new Date(json.ca.notBefore).getTime()).toBeLessThanOrEqual(Date.now());
  });
});

describe("events", () => {
  test("ok/lists error lines newest first", async () => {
    clearRecentEvents();
    setLogLevel("warn");
    const log = logger("console-test");
    log.warn({ request_id: "r-1", method: "GET", path: "/x", status: 404, error: "not_found" }, "first");
    log.error({ err: new TypeError("boom"), password: "hunter2", body: { token: "secret-token" } }, "second");
    log.info("not recorded");
    setLogLevel("error");

    const reply = await call("GET", "/api/admin/events", { token: adminToken });
    expect(reply.status).toBe(200);
    const [second, first] = reply.json.events;
    expect(reply.json.events).toHaveLength(2);
    expect(second).toMatchObject({ level: "error", component: "console-test", message: "second", error: "TypeError: boom" });
    expect(first).toMatchObject({ level: "warn", message: "first", requestId: "r-1", request: "GET /x 404", code: "not_found" });
    const text = JSON.stringify(reply.json);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("secret-token");
    expect(text).not.toContain("at ");
  });

  test("ok/limit keeps the newest", async () => {
    const reply = await call("GET", "/api/admin/events?limit=1", { token: adminToken });
    expect(reply.json.events.map((event: { message: string }) => event.message)).toEqual(["second"]);
  });

  test("fail/bad limit is 400", async () => {
    for (const limit of ["0", "201", "x", "1.5"]) {
      const reply = await call("GET", `/api/admin/events?limit=${limit}`, { token: adminToken });
      expect({ limit, status: reply.status }).toEqual({ limit, status: 400 });
    }
  });
});

describe("user detail", () => {
  test("ok/enrolled user has account", async () => {
    const reply = await call("GET", "/api/admin/user/ALICE", { token: adminToken });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ username: "alice", role: "user", source: "local", status: "active", disabled: false });
    expect(reply.json.accountId).toMatch(/^[0-9a-f]{40}$/);
    expect(new Date(reply.json.accountNotAfter).getTime()).toBeGreaterThan(Date.now());
    expect(reply.json.passwordHash).toBeUndefined();
  });

  test("ok/user without device has no account", async () => {
    const reply = await call("GET", "/api/admin/user/bob", { token: adminToken });
    expect(reply.json.accountId).toBeNull();
    expect(reply.json.accountNotAfter).toBeNull();
  });

  test("fail/unknown user is 404", async () => {
    const reply = await call("GET", "/api/admin/user/nobody", { token: adminToken });
    expect(reply.status).toBe(404);
    expect(reply.json.error).toBe("not_found");
  });
});

describe("password reset", () => {
  test("ok/new password works, old fails", async () => {
    const reply = await call("PUT", "/api/admin/user/bob", { token: adminToken, body: { password: "bob new password" } });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ success: true, username: "bob" });
    expect((await login("bob", "bob new password")).status).toBe(200);
    expect((await login("bob", "bob password")).status).toBe(401);
  });

  test("fail/directory user is 400", async () => {
    const reply = await call("PUT", "/api/admin/user/dirk", { token: adminToken, body: { password: "anything" } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("password_in_directory");
    expect(reply.json.message).toContain("LDAP directory");
    expect(reply.json.details).toEqual({ field: "password" });
  });

  test("fail/empty password is 400", async () => {
    for (const body of [{ password: "" }, {}, { password: 12 }]) {
      const reply = await call("PUT", "/api/admin/user/bob", { token: adminToken, body });
      expect(reply.status).toBe(400);
    }
    expect((await login("bob", "bob new password")).status).toBe(200);
  });

  test("fail/unknown user is 404", async () => {
    const reply = await call("PUT", "/api/admin/user/nobody", { token: adminToken, body: { password: "x" } });
    expect(reply.status).toBe(404);
  });

  test("fail/revoked user is 409", async () => {
    expect((await call("DELETE", "/api/admin/user/bob", { token: adminToken })).status).toBe(200);
    const reply = await call("PUT", "/api/admin/user/bob", { token: adminToken, body: { password: "again" } });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("user_revoked");
  });
});

describe("settings", () => {
  test("ok/returns setup choices", async () => {
    const reply = await call("GET", "/api/admin/settings", { token: adminToken });
    expect(reply.status).toBe(200);
    expect(reply.json.settings).toEqual({
      serverDomain: "https://jams.example.org",
      deviceLifetime: 90 * 86_400_000,
      userLifetime: 2 * 365 * 86_400_000,
      crlLifetime: 86_400_000,
      publicNameServer: false,
    });
    expect(reply.json.nameServer).toBe("https://jams.example.org/api/nameserver");
    expect(reply.json.authType).toBe("LOCAL");
    expect(typeof reply.json.version).toBe("string");
  });
});
