/**
 * Contact and conversation sync between two devices of one user: union by key, an empty report
 * never deletes, the newest event wins, the account's own URI is ignored, and malformed
 * reports change nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bearerPost, deviceLogin, enroll, makeDeviceKey, makeJamiCsr, type DeviceKey } from "./support/jami-client.ts";
import { startServer, type TestServer } from "./support/server.ts";

let server: TestServer;
let tokenA: string;
let tokenB: string;
let accountId: string;
const peer = "a".repeat(40);
const otherPeer = "b".repeat(40);

async function enrollAndLogin(key: DeviceKey): Promise<{ token: string; accountId: string }> {
  const reply = await enroll(server.url, server.serverCa, "carol", "carol-password", await makeJamiCsr(key), "device");
  const json = reply.json as { certificateChain: string; deviceReceipt: string };
  const login = await deviceLogin(server.url, server.serverCa, key.privateKeyPem, json.certificateChain);
  return { token: (login.json as { access_token: string }).access_token, accountId: JSON.parse(json.deviceReceipt).id };
}

function post(token: string, path: string, body: unknown) {
  return bearerPost(server.url, server.serverCa, token, path, body);
}

beforeAll(async () => {
  server = await startServer({ installed: true, users: { carol: "carol-password" } });
  const a = await enrollAndLogin(makeDeviceKey(2048));
  const b = await enrollAndLogin(makeDeviceKey(2048));
  tokenA = a.token;
  tokenB = b.token;
  accountId = a.accountId;
});

afterAll(async () => {
  await server?.stop();
});

describe("contacts", () => {
  test("device A's contact reaches device B", async () => {
    const contact = { uri: peer, added: 1700000000, addedMs: 1700000000000, conversationId: "c1" };
    const first = await post(tokenA, "/api/auth/contacts", [contact]);
    expect(first.status).toBe(200);
    expect(first.json).toEqual([contact]);
    const second = await post(tokenB, "/api/auth/contacts", []);
    expect(second.status).toBe(200);
    expect(second.json).toEqual([contact]);
  });

  test("posting the same list twice is idempotent", async () => {
    const contact = { uri: peer, added: 1700000000, addedMs: 1700000000000, conversationId: "c1" };
    const again = await post(tokenA, "/api/auth/contacts", [contact]);
    expect(again.json).toEqual([contact]);
  });

  test("a newer removal is kept", async () => {
    const removal = { uri: peer, added: 1700000000, addedMs: 1700000000000, removed: 1700000100, removedMs: 1700000100000, conversationId: "c1" };
    const reply = await post(tokenB, "/api/auth/contacts", [removal]);
    expect(reply.json).toEqual([removal]);
  });

  test("an older report loses to the newer state", async () => {
    const stale = { uri: peer, added: 1600000000, addedMs: 1600000000000, conversationId: "old" };
    const reply = (await post(tokenA, "/api/auth/contacts", [stale])).json as Record<string, unknown>[];
    expect(reply[0]!.removedMs).toBe(1700000100000);
    expect(reply[0]!.conversationId).toBe("c1");
  });

  test("confirmed and banned stay booleans", async () => {
    const contact = { uri: otherPeer, added: 1700000200, addedMs: 1700000200000, confirmed: true, banned: false, conversationId: "" };
    const reply = (await post(tokenA, "/api/auth/contacts", [contact])).json as Record<string, unknown>[];
    const stored = reply.find((item) => item.uri === otherPeer)!;
    expect(stored.confirmed).toBe(true);
    expect(stored.banned).toBe(false);
  });

  test("the account's own URI is ignored", async () => {
    const self = { uri: accountId, added: 1700000300, addedMs: 1700000300000, removed: 1700000400, conversationId: "" };
    const reply = (await post(tokenA, "/api/auth/contacts", [self])).json as Record<string, unknown>[];
    expect(reply.map((item) => item.uri)).not.toContain(accountId);
  });
});

describe("conversations", () => {
  test("members are united and timestamps stay integers", async () => {
    const base = { id: "conv1", created: 1700000000, createdMs: 1700000000000, lastDisplayed: "", mode: 0 };
    await post(tokenA, "/api/auth/conversations", [{ ...base, members: [{ uri: peer }] }]);
    const reply = (await post(tokenB, "/api/auth/conversations", [{ ...base, members: [{ uri: otherPeer }] }])).json as Record<string, unknown>[];
    expect(reply.length).toBe(1);
    expect(reply[0]!.members).toEqual([{ uri: peer }, { uri: otherPeer }]);
    expect(reply[0]!.createdMs).toBe(1700000000000);
  });

  test("an empty report returns the stored list", async () => {
    const reply = await post(tokenB, "/api/auth/conversations", []);
    expect(reply.status).toBe(200);
    expect((reply.json as unknown[]).length).toBe(1);
  });
});

describe("conversation requests", () => {
  test("metadata values round-trip as strings", async () => {
    const request = { conversationId: "conv2", from: peer, received: 1700000000, receivedMs: 1700000000000, metadatas: { title: "x" } };
    const reply = await post(tokenA, "/api/auth/conversationRequests", [request]);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual([request]);
  });
});

describe("malformed reports", () => {
  const cases: [string, string, unknown][] = [
    ["object instead of array", "/api/auth/contacts", { uri: peer }],
    ["string timestamp", "/api/auth/contacts", [{ uri: "c".repeat(40), added: "1700000000" }]],
    ["negative timestamp", "/api/auth/contacts", [{ uri: "c".repeat(40), added: -1 }]],
    ["banned as a string", "/api/auth/contacts", [{ uri: "c".repeat(40), banned: "true" }]],
    ["missing uri", "/api/auth/contacts", [{ added: 1 }]],
    ["uri that is no Jami id", "/api/auth/contacts", [{ uri: "x", added: 1 }]],
    ["request from no Jami id", "/api/auth/conversationRequests", [{ conversationId: "conv6", from: "bob" }]],
    ["members not an array", "/api/auth/conversations", [{ id: "conv3", members: "x" }]],
    ["metadata not strings", "/api/auth/conversationRequests", [{ conversationId: "conv4", metadatas: { n: 1 } }]],
    ["array element not object", "/api/auth/conversations", ["conv5"]],
  ];
  for (const [name, path, body] of cases) {
    test(`${name} is 400`, async () => {
      const reply = await post(tokenA, path, body);
      expect(reply.status).toBe(400);
      expect((reply.json as { error: string }).error).toBe("invalid_request");
    });
  }

  test("a rejected report stored nothing", async () => {
    const reply = (await post(tokenA, "/api/auth/contacts", [])).json as Record<string, unknown>[];
    expect(reply.map((item) => item.uri)).not.toContain("c".repeat(40));
  });

  test("no token is 401", async () => {
    const reply = await post("not-a-token", "/api/auth/contacts", []);
    expect(reply.status).toBe(401);
  });

  test("a 200 KB report is accepted", async () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ uri: i.toString(16).padStart(40, "0"), added: 1700000000 + i, conversationId: "" }));
    const reply = await post(tokenA, "/api/auth/contacts", many);
    expect(reply.status).toBe(200);
    expect((reply.json as unknown[]).length).toBeGreaterThanOrEqual(2000);
  });

  test("a user's stored contacts are capped", async () => {
    const stored = ((await post(tokenA, "/api/auth/contacts", [])).json as unknown[]).length;
    const fresh = Array.from({ length: 10_001 - stored }, (_, i) => ({ uri: (i + 1_000_000).toString(16).padStart(40, "f"), added: 1 }));
    const reply = await post(tokenA, "/api/auth/contacts", fresh);
    expect(reply.status).toBe(400);
    expect((reply.json as { error: string }).error).toBe("sync_limit_exceeded");
    const after = ((await post(tokenA, "/api/auth/contacts", [])).json as unknown[]).length;
    expect(after).toBe(stored);
  });
});
