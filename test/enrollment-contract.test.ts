/**
 * Contract tests: the requests a real Jami client makes, replayed with its exact bytes against
 * the real server, and its acceptance checks (first enrollment and every later start) replayed
 * on the replies by an independent implementation in test/support.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode } from "@msgpack/msgpack";
import {
  checkChainWithOpenssl,
  checkDeviceList,
  checkEnrollmentRecommendations,
  checkEnrollmentReply,
  checkTokenReply,
} from "./support/jami-client-checks.ts";
import {
  bearerDelete,
  bearerGet,
  deviceLogin,
  enroll,
  lookupAddress,
  lookupName,
  makeDeviceKey,
  makeJamiCsr,
  resolveNameServerUrl,
  userLogin,
  type DeviceKey,
} from "./support/jami-client.ts";
import { startServer, type TestServer } from "./support/server.ts";

let server: TestServer;
let laptop: DeviceKey;
let phone: DeviceKey;
let laptopReply: Record<string, unknown>;

beforeAll(async () => {
  server = await startServer({ installed: true, users: { alice: "pässwörd", bob: "bob-password" } });
  // The real client uses RSA 4096; the second device uses 2048 to keep the suite fast.
  laptop = makeDeviceKey(4096);
  phone = makeDeviceKey(2048);
  const reply = await enroll(server.url, server.serverCa, "alice", "pässwörd", await makeJamiCsr(laptop), "laptop");
  expect(reply.status).toBe(200);
  laptopReply = reply.json as Record<string, unknown>;
});

afterAll(async () => {
  await server?.stop();
});

function tokenOf(json: unknown): string {
  return (json as { access_token: string }).access_token;
}

describe("enrollment reply", () => {
  test("passes the client's acceptance checks", () => {
    expect(checkEnrollmentReply(laptopReply, laptop)).toEqual([]);
  });

  test("follows the recommended profile", () => {
    expect(checkEnrollmentRecommendations(laptopReply, laptop)).toEqual([]);
  });

  test("chain verifies with openssl", () => {
    expect(checkChainWithOpenssl(String(laptopReply.certificateChain))).toEqual([]);
  });

  test("holds three certificates, leaf first", () => {
    const chain = String(laptopReply.certificateChain);
    expect(chain.match(/-----BEGIN CERTIFICATE-----/g)?.length).toBe(3);
  });

  test("receipt ids match the account and device", async () => {
    const receipt = JSON.parse(String(laptopReply.deviceReceipt)) as Record<string, string>;
    const names = await lookupName(resolveNameServerUrl(server.url, String(laptopReply.nameServer)), server.serverCa, "alice");
    expect(receipt.dev).toBe(laptop.shortId);
    expect(receipt.id).toBe((names.json as { addr: string }).addr);
    expect(Object.keys(receipt)).toEqual(["id", "dev", "eth", "announce"]);
  });

  test("announce body carries the device public key", () => {
    const receipt = JSON.parse(String(laptopReply.deviceReceipt)) as { announce: string };
    const value = decode(Buffer.from(receipt.announce, "base64")) as { dat: { body: { data: Uint8Array } } };
    const data = decode(value.dat.body.data) as { dev: Uint8Array; pk: Uint8Array };
    expect(Buffer.from(data.dev).toString("hex")).toBe(laptop.shortId);
    expect(Buffer.from(data.pk).equals(Buffer.from(laptop.spkiDer))).toBe(true);
  });

  test("name server is a path on this server", () => {
    expect(laptopReply.nameServer).toBe("/api/nameserver");
  });

  test("every member is a scalar", () => {
    for (const value of Object.values(laptopReply)) {
      expect(["string", "number", "boolean"]).toContain(typeof value);
    }
  });
});

describe("re-enrollment with the same key", () => {
  test("returns a fresh valid chain", async () => {
    const reply = await enroll(server.url, server.serverCa, "alice", "pässwörd", await makeJamiCsr(laptop), "laptop");
    expect(reply.status).toBe(200);
    expect(checkEnrollmentReply(reply.json, laptop)).toEqual([]);
    const chain = (reply.json as { certificateChain: string }).certificateChain;
    expect(chain).not.toBe(laptopReply.certificateChain);
  });

  test("keeps one device list entry", async () => {
    const login = await userLogin(server.url, server.serverCa, "alice", "pässwörd");
    const list = (await bearerGet(server.url, server.serverCa, tokenOf(login.json), "/api/auth/devices")).json as {
      deviceId: string;
    }[];
    expect(list.filter((entry) => entry.deviceId === laptop.longId).length).toBe(1);
  });

  test("same key for another user is refused", async () => {
    const reply = await enroll(server.url, server.serverCa, "bob", "bob-password", await makeJamiCsr(laptop), "stolen");
    expect(reply.status).toBe(409);
    expect((reply.json as { error: string }).error).toBe("device_key_in_use");
  });
});

describe("tokens", () => {
  test("device login returns a DEVICE token", async () => {
    const reply = await deviceLogin(server.url, server.serverCa, laptop.privateKeyPem, String(laptopReply.certificateChain));
    expect(reply.status).toBe(200);
    expect(checkTokenReply(reply.json, "DEVICE")).toEqual([]);
  });

  test("user login with Basic returns USER", async () => {
    const reply = await userLogin(server.url, server.serverCa, "alice", "pässwörd");
    expect(reply.status).toBe(200);
    expect(checkTokenReply(reply.json, "USER")).toEqual([]);
  });

  test("wrong password on user login is 401", async () => {
    const reply = await userLogin(server.url, server.serverCa, "alice", "wrong");
    expect(reply.status).toBe(401);
  });

  test("DEVICE token reads the device list", async () => {
    const login = await deviceLogin(server.url, server.serverCa, laptop.privateKeyPem, String(laptopReply.certificateChain));
    const reply = await bearerGet(server.url, server.serverCa, tokenOf(login.json), "/api/auth/devices");
    expect(reply.status).toBe(200);
    expect(checkDeviceList(reply.json)).toEqual([]);
    expect(reply.json).toContainEqual({ deviceId: laptop.longId, alias: "laptop", displayName: "laptop", revoked: false });
  });

  test("DEVICE token reads an all-scalar policy", async () => {
    const login = await deviceLogin(server.url, server.serverCa, laptop.privateKeyPem, String(laptopReply.certificateChain));
    const reply = await bearerGet(server.url, server.serverCa, tokenOf(login.json), "/api/auth/policyData");
    expect(reply.status).toBe(200);
    expect(typeof reply.json).toBe("object");
    expect(Array.isArray(reply.json)).toBe(false);
  });
});

describe("revocation by the owner", () => {
  let phoneChain: string;
  let phoneToken: string;

  beforeAll(async () => {
    const reply = await enroll(server.url, server.serverCa, "alice", "pässwörd", await makeJamiCsr(phone), "phone");
    phoneChain = (reply.json as { certificateChain: string }).certificateChain;
    phoneToken = tokenOf((await deviceLogin(server.url, server.serverCa, phone.privateKeyPem, phoneChain)).json);
  });

  test("DEVICE token cannot revoke", async () => {
    const reply = await bearerDelete(server.url, server.serverCa, phoneToken, `/api/auth/device/${laptop.longId}`);
    expect(reply.status).toBe(403);
  });

  test("USER token revokes with no errorDetails", async () => {
    const login = await userLogin(server.url, server.serverCa, "alice", "pässwörd");
    const reply = await bearerDelete(server.url, server.serverCa, tokenOf(login.json), `/api/auth/device/${phone.longId}`);
    expect(reply.status).toBe(200);
    expect((reply.json as Record<string, unknown>).errorDetails).toBeUndefined();
  });

  test("list shows the device revoked", async () => {
    const login = await deviceLogin(server.url, server.serverCa, laptop.privateKeyPem, String(laptopReply.certificateChain));
    const list = (await bearerGet(server.url, server.serverCa, tokenOf(login.json), "/api/auth/devices")).json;
    expect(list).toContainEqual({ deviceId: phone.longId, alias: "phone", displayName: "phone", revoked: true });
  });

  test("revoked device login is 401", async () => {
    const reply = await deviceLogin(server.url, server.serverCa, phone.privateKeyPem, phoneChain);
    expect(reply.status).toBe(401);
    expect((reply.json as { error: string }).error).toBe("device_revoked");
  });

  test("token issued before revocation is 401", async () => {
    const reply = await bearerGet(server.url, server.serverCa, phoneToken, "/api/auth/devices");
    expect(reply.status).toBe(401);
  });

  test("revoked key cannot enroll again", async () => {
    const reply = await enroll(server.url, server.serverCa, "alice", "pässwörd", await makeJamiCsr(phone), "phone");
    expect(reply.status).toBe(403);
    expect((reply.json as { error: string }).error).toBe("device_revoked");
  });

  test("another user's device is not found", async () => {
    const login = await userLogin(server.url, server.serverCa, "bob", "bob-password");
    const reply = await bearerDelete(server.url, server.serverCa, tokenOf(login.json), `/api/auth/device/${laptop.longId}`);
    expect(reply.status).toBe(404);
  });
});

describe("name server", () => {
  test("name and address lookups agree", async () => {
    const nameServer = resolveNameServerUrl(server.url, String(laptopReply.nameServer));
    const byName = await lookupName(nameServer, server.serverCa, "alice");
    expect(byName.status).toBe(200);
    const addr = (byName.json as { addr: string }).addr;
    const byAddress = await lookupAddress(nameServer, server.serverCa, addr);
    expect(byAddress.status).toBe(200);
    expect(byAddress.json).toEqual({ name: "alice" });
  });

  test("address is the account certificate's key id", async () => {
    const nameServer = resolveNameServerUrl(server.url, String(laptopReply.nameServer));
    const byName = await lookupName(nameServer, server.serverCa, "alice");
    const receipt = JSON.parse(String(laptopReply.deviceReceipt)) as { id: string };
    expect((byName.json as { addr: string }).addr).toBe(receipt.id);
  });

  test("user who never enrolled is 404", async () => {
    const nameServer = resolveNameServerUrl(server.url, "/api/nameserver");
    const reply = await lookupName(nameServer, server.serverCa, "bob");
    expect(reply.status).toBe(404);
    expect((reply.json as { error: string }).error).toBe("name_not_found");
  });

  test("unknown address is 404 JSON", async () => {
    const nameServer = resolveNameServerUrl(server.url, "/api/nameserver");
    const reply = await lookupAddress(nameServer, server.serverCa, "0".repeat(40));
    expect(reply.status).toBe(404);
    expect((reply.json as { error: string }).error).toBe("address_not_found");
  });
});
