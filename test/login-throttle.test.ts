/** Password guessing is throttled: 429 past the limits, never 401, and only for the guessed keys. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AppError } from "../src/api/errors.ts";
import { LoginThrottle, loginLimits, loginWindowMs } from "../src/users/login-throttle.ts";
import { enroll, makeDeviceKey, makeJamiCsr, userLogin } from "./support/jami-client.ts";
import { startServer, type TestServer } from "./support/server.ts";

function statusOf(action: () => void): number | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error instanceof AppError ? error.status : -1;
  }
}

describe("LoginThrottle", () => {
  test("allows attempts under the pair limit", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < loginLimits.userAndAddress - 1; i++) throttle.recordFailure("kim", "10.0.0.1");
    expect(statusOf(() => throttle.check("kim", "10.0.0.1"))).toBeUndefined();
  });

  test("refuses at the pair limit with 429", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < loginLimits.userAndAddress; i++) throttle.recordFailure("kim", "10.0.0.1");
    expect(statusOf(() => throttle.check("kim", "10.0.0.1"))).toBe(429);
  });

  test("another address for the same user still works", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < loginLimits.userAndAddress; i++) throttle.recordFailure("kim", "10.0.0.1");
    expect(statusOf(() => throttle.check("kim", "10.0.0.2"))).toBeUndefined();
  });

  test("a user guessed from many addresses is refused", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < loginLimits.user; i++) throttle.recordFailure("kim", `10.0.1.${i}`);
    expect(statusOf(() => throttle.check("kim", "10.0.2.1"))).toBe(429);
  });

  test("case and width variants count as one user", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < loginLimits.userAndAddress; i++) throttle.recordFailure(i % 2 ? "KIM" : "ｋｉｍ", "10.0.0.1");
    expect(statusOf(() => throttle.check("kim", "10.0.0.1"))).toBe(429);
  });

  test("failures expire after the window", () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < loginLimits.userAndAddress; i++) throttle.recordFailure("kim", "10.0.0.1");
    now += loginWindowMs + 1;
    expect(statusOf(() => throttle.check("kim", "10.0.0.1"))).toBeUndefined();
  });

  test("success clears the pair counter", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < loginLimits.userAndAddress - 1; i++) throttle.recordFailure("kim", "10.0.0.1");
    throttle.recordSuccess("kim", "10.0.0.1");
    throttle.recordFailure("kim", "10.0.0.1");
    expect(statusOf(() => throttle.check("kim", "10.0.0.1"))).toBeUndefined();
  });
});

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ installed: true, users: { lena: "lena-password", omar: "omar-password" } });
});

afterAll(async () => {
  await server?.stop();
});

describe("login over HTTP", () => {
  test("wrong passwords get 401 until the limit", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < loginLimits.userAndAddress; i++) {
      statuses.push((await userLogin(server.url, server.serverCa, "lena", `guess-${i}`)).status);
    }
    expect(statuses.every((status) => status === 401)).toBe(true);
  });

  test("then even the right password gets 429", async () => {
    const reply = await userLogin(server.url, server.serverCa, "lena", "lena-password");
    expect(reply.status).toBe(429);
    expect((reply.json as { error: string }).error).toBe("too_many_attempts");
    expect(Number(reply.headers["retry-after"])).toBeGreaterThan(0);
  });

  test("enrollment for that user is throttled too", async () => {
    const reply = await enroll(server.url, server.serverCa, "lena", "lena-password", await makeJamiCsr(makeDeviceKey(2048)), "d");
    expect(reply.status).toBe(429);
  });

  test("another user is not affected", async () => {
    const reply = await userLogin(server.url, server.serverCa, "omar", "omar-password");
    expect(reply.status).toBe(200);
  });
});
