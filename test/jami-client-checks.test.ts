/**
 * @module Self-tests of the test-side Jami client and its acceptance checks, run without the
 * server: a correct enrolment reply is built here from scratch, the checks must accept it, and
 * each single fault injected into it must produce its own failure message.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { encode as encodeMsgpack } from "@msgpack/msgpack";
import { beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createPrivateKey, sign, webcrypto, type KeyObject } from "node:crypto";
import {
  UID_OID,
  buildManagerUrl,
  derToPem,
  encodeNameForLookup,
  jsoncppStyle,
  makeDeviceKey,
  makeJamiCsr,
  pemToDer,
  resolveNameServerUrl,
  spkiShortId,
  type DeviceKey,
} from "./support/jami-client.ts";
import {
  checkChainWithOpenssl,
  checkDeviceList,
  checkEnrollmentRecommendations,
  checkEnrollmentReply,
  checkTokenReply,
  encodeCanonicalAnnounceBody,
} from "./support/jami-client-checks.ts";

const subtleCrypto = webcrypto as unknown as Crypto;
const RSA_ALGORITHM = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
};
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** An RSA key usable both by @peculiar/x509 (WebCrypto) and by node:crypto. */
interface TestKey {
  keys: CryptoKeyPair;
  privateKey: KeyObject;
  spki: Uint8Array;
  id: string;
}

async function makeTestKey(): Promise<TestKey> {
  const keys = (await webcrypto.subtle.generateKey(RSA_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const spki = new Uint8Array(await webcrypto.subtle.exportKey("spki", keys.publicKey));
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    keys,
    privateKey: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }),
    spki,
    id: spkiShortId(spki),
  };
}

async function importDeviceKeys(device: DeviceKey): Promise<CryptoKeyPair> {
  const privateKey = await webcrypto.subtle.importKey("pkcs8", pemToDer(device.privateKeyPem), RSA_ALGORITHM, true, ["sign"]);
  const publicKey = await webcrypto.subtle.importKey("spki", device.spkiDer, RSA_ALGORITHM, true, ["verify"]);
  return { privateKey, publicKey } as CryptoKeyPair;
}

/** Returns a Date without milliseconds, because certificate times have a one-second precision. */
function secondsFromNow(offsetMs: number): Date {
  return new Date(Math.floor((Date.now() + offsetMs) / 1000) * 1000);
}

interface TestPki {
  ca: TestKey;
  account: TestKey;
  device: DeviceKey;
  deviceKeys: CryptoKeyPair;
  caCertificate: x509.X509Certificate;
  accountCertificate: x509.X509Certificate;
  deviceCertificate: x509.X509Certificate;
}

function issueCaCertificate(ca: TestKey): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: ["Example Org CA"] }, { [UID_OID]: [ca.id] }],
      keys: ca.keys,
      signingAlgorithm: RSA_ALGORITHM,
      notBefore: secondsFromNow(-HOUR_MS),
      notAfter: secondsFromNow(3650 * DAY_MS),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    },
    subtleCrypto,
  );
}

function issueAccountCertificate(
  pki: Pick<TestPki, "ca" | "account" | "caCertificate">,
  isCa = true,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create(
    {
      subject: [{ CN: ["alice"] }, { [UID_OID]: [pki.account.id] }],
      issuer: pki.caCertificate.subjectName,
      publicKey: pki.account.keys.publicKey,
      signingKey: pki.ca.keys.privateKey,
      signingAlgorithm: RSA_ALGORITHM,
      notBefore: secondsFromNow(-HOUR_MS),
      notAfter: secondsFromNow(3650 * DAY_MS),
      extensions: [
        new x509.BasicConstraintsExtension(isCa, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
      ],
    },
    subtleCrypto,
  );
}

interface DeviceCertificateOptions {
  notBefore?: Date;
  notAfter?: Date;
  selfSigned?: boolean;
}

function issueDeviceCertificate(
  pki: Pick<TestPki, "account" | "device" | "deviceKeys" | "accountCertificate">,
  options: DeviceCertificateOptions = {},
): Promise<x509.X509Certificate> {
  const subject: x509.JsonName = [{ CN: ["Jami device"] }, { [UID_OID]: [pki.device.shortId] }];
  const signer = options.selfSigned ? pki.deviceKeys : pki.account.keys;
  return x509.X509CertificateGenerator.create(
    {
      subject,
      issuer: options.selfSigned ? subject : pki.accountCertificate.subjectName,
      publicKey: pki.deviceKeys.publicKey,
      signingKey: signer.privateKey,
      signingAlgorithm: RSA_ALGORITHM,
      notBefore: options.notBefore ?? secondsFromNow(-HOUR_MS),
      notAfter: options.notAfter ?? secondsFromNow(365 * DAY_MS),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.dataEncipherment,
          true,
        ),
      ],
    },
    subtleCrypto,
  );
}

async function makeTestPki(): Promise<TestPki> {
  const [ca, account] = await Promise.all([makeTestKey(), makeTestKey()]);
  const device = makeDeviceKey(2048);
  const deviceKeys = await importDeviceKeys(device);
  const caCertificate = await issueCaCertificate(ca);
  const accountCertificate = await issueAccountCertificate({ ca, account, caCertificate });
  const deviceCertificate = await issueDeviceCertificate({ account, device, deviceKeys, accountCertificate });
  return { ca, account, device, deviceKeys, caCertificate, accountCertificate, deviceCertificate };
}

function toPem(certificate: x509.X509Certificate): string {
  return derToPem(new Uint8Array(certificate.rawData), "CERTIFICATE");
}

function hexToBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

interface AnnounceOptions {
  /** Member order of the encoded body. The signature covers the bytes as encoded. */
  bodyKeyOrder?: readonly string[];
  /** Replaces the decoded `data` map. */
  data?: Record<string, unknown>;
}

/** Builds the base64 announce as a server would: a signed msgpack DHT value. */
function buildAnnounce(account: TestKey, device: DeviceKey, options: AnnounceOptions = {}): string {
  const data = options.data ?? { dev: hexToBytes(device.shortId), pk: device.spkiDer };
  const fields: Record<string, unknown> = {
    seq: 0,
    owner: account.spki,
    to: new Uint8Array(20),
    type: 0,
    data: encodeMsgpack(data),
  };
  const body: Record<string, unknown> = {};
  for (const key of options.bodyKeyOrder ?? ["seq", "owner", "type", "data"]) {
    body[key] = fields[key];
  }
  const signature = sign("sha512", encodeMsgpack(body), account.privateKey);
  return Buffer.from(encodeMsgpack({ id: 0, dat: { body, sig: new Uint8Array(signature) } })).toString("base64");
}

function buildReceipt(account: TestKey, device: DeviceKey, announce: string): string {
  return JSON.stringify({ id: account.id, dev: device.shortId, eth: "", announce });
}

function signReceipt(account: TestKey, receipt: string): string {
  return sign("sha512", Buffer.from(receipt, "utf8"), account.privateKey).toString("base64");
}

/** Assembles a correct enrolment reply from the given certificates. */
function buildReply(pki: TestPki, announceOptions: AnnounceOptions = {}): Record<string, unknown> {
  const receipt = buildReceipt(pki.account, pki.device, buildAnnounce(pki.account, pki.device, announceOptions));
  return {
    certificateChain: [pki.deviceCertificate, pki.accountCertificate, pki.caCertificate].map(toPem).join(""),
    deviceReceipt: receipt,
    receiptSignature: signReceipt(pki.account, receipt),
    nameServer: "https://jams.example.test/api/nameserver",
    "Account.displayName": "Alice",
  };
}

describe("checkEnrollmentReply", () => {
  let pki: TestPki;
  let goodReply: Record<string, unknown>;

  beforeAll(async () => {
    pki = await makeTestPki();
    goodReply = buildReply(pki);
  });

  function chainOf(...certificates: x509.X509Certificate[]): string {
    return certificates.map(toPem).join("");
  }

  test("accepts a correct reply", () => {
    expect(checkEnrollmentReply(goodReply, pki.device)).toEqual([]);
  });

  test("correct reply meets the recommendations", () => {
    expect(checkEnrollmentRecommendations(goodReply, pki.device)).toEqual([]);
  });

  test("correct chain passes openssl verify", () => {
    expect(checkChainWithOpenssl(goodReply.certificateChain as string)).toEqual([]);
  });

  test("rejects a chain in the wrong order", () => {
    const reply = {
      ...goodReply,
      certificateChain: chainOf(pki.accountCertificate, pki.deviceCertificate, pki.caCertificate),
    };
    expect(checkEnrollmentReply(reply, pki.device)).toContain(
      "certificate 1 (device) issuer DN does not match certificate 2 (account) subject DN byte for byte, so GnuTLS rejects the chain as unsorted",
    );
  });

  test("rejects a chain without the CA", () => {
    const reply = { ...goodReply, certificateChain: chainOf(pki.deviceCertificate, pki.accountCertificate) };
    const failures = checkEnrollmentReply(reply, pki.device);
    expect(failures).toEqual([
      "certificateChain has no CA certificate (2 certificates, expected 3: device, account, CA), so the client pins no organisation CA",
    ]);
  });

  test("rejects an account certificate that is not a CA", async () => {
    const accountCertificate = await issueAccountCertificate(pki, false);
    const reply = {
      ...goodReply,
      certificateChain: chainOf(pki.deviceCertificate, accountCertificate, pki.caCertificate),
    };
    const failures = checkEnrollmentReply(reply, pki.device);
    expect(failures).toContain(
      "certificate 2 (account) is not a CA (basicConstraints CA:TRUE is missing), so GnuTLS rejects it as an issuer",
    );
    expect(checkChainWithOpenssl(reply.certificateChain)).toHaveLength(1);
  });

  test("rejects a self-signed device certificate", async () => {
    const deviceCertificate = await issueDeviceCertificate(pki, { selfSigned: true });
    const reply = {
      ...goodReply,
      certificateChain: chainOf(deviceCertificate, pki.accountCertificate, pki.caCertificate),
    };
    const failures = checkEnrollmentReply(reply, pki.device);
    expect(failures).toContain(
      "certificate 1 (device) is self-signed, but peers reject a device whose top issuer is itself",
    );
    expect(failures).toContain(
      "certificate 1 (device) signature does not verify with the public key of certificate 2 (account)",
    );
  });

  test("rejects an expired device certificate", async () => {
    const deviceCertificate = await issueDeviceCertificate(pki, {
      notBefore: secondsFromNow(-2 * DAY_MS),
      notAfter: secondsFromNow(-DAY_MS),
    });
    const reply = {
      ...goodReply,
      certificateChain: chainOf(deviceCertificate, pki.accountCertificate, pki.caCertificate),
    };
    const failures = checkEnrollmentReply(reply, pki.device);
    expect(failures).toEqual([`certificate 1 (device) expired at ${deviceCertificate.notAfter.toISOString()}`]);
    expect(checkChainWithOpenssl(reply.certificateChain)).toHaveLength(1);
  });

  test("rejects a device certificate for another key", () => {
    const otherDevice = makeDeviceKey(2048);
    expect(checkEnrollmentReply(goodReply, otherDevice)).toContain(
      "certificate 1 (device) public key differs from the CSR public key",
    );
  });

  test("rejects a receipt sent as an object", () => {
    const reply = { ...goodReply, deviceReceipt: JSON.parse(goodReply.deviceReceipt as string) };
    expect(checkEnrollmentReply(reply, pki.device)).toContain(
      "deviceReceipt is an object, but the client requires a string containing a JSON object",
    );
  });

  test("rejects a URL-safe base64 receipt signature", () => {
    const urlSafe = Buffer.from(goodReply.receiptSignature as string, "base64").toString("base64url");
    // A 256-byte signature contains "-" or "_" in its URL-safe form except with probability 2e-5.
    expect(urlSafe).toMatch(/[-_]/);
    const reply = { ...goodReply, receiptSignature: urlSafe };
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      "receiptSignature uses the URL-safe base64 alphabet (- or _), which the client rejects",
    ]);
  });

  test("rejects a signature over different bytes", () => {
    const receipt = goodReply.deviceReceipt as string;
    const reply = { ...goodReply, receiptSignature: signReceipt(pki.account, `${receipt} `) };
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      "receiptSignature does not verify over the deviceReceipt bytes with the account key (RSA PKCS#1 v1.5 SHA-512)",
    ]);
  });

  test("rejects a receipt with the wrong account ID", () => {
    const receipt = JSON.stringify({ ...JSON.parse(goodReply.deviceReceipt as string), id: pki.ca.id });
    const reply = { ...goodReply, deviceReceipt: receipt, receiptSignature: signReceipt(pki.account, receipt) };
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      `deviceReceipt id is the string "${pki.ca.id}", expected the account ID "${pki.account.id}"`,
    ]);
  });

  test("rejects an announce signed over a non-canonical body", () => {
    const reply = buildReply(pki, { bodyKeyOrder: ["owner", "seq", "type", "data"] });
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      "announce signature does not verify over the canonical msgpack encoding of the body with the owner key (RSA PKCS#1 v1.5 SHA-512)",
    ]);
  });

  test("rejects an announce without pk", () => {
    const reply = buildReply(pki, { data: { dev: hexToBytes(pki.device.shortId) } });
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      "announce data has no pk member (the device public key), which the client requires",
    ]);
  });

  test("rejects an announce with the wrong dev", () => {
    const reply = buildReply(pki, { data: { dev: hexToBytes(pki.ca.id), pk: pki.device.spkiDer } });
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      `announce data dev is ${pki.ca.id}, expected the device short ID ${pki.device.shortId}`,
    ]);
  });

  test("rejects an announce body with a to member", () => {
    const reply = buildReply(pki, { bodyKeyOrder: ["seq", "owner", "type", "data", "to"] });
    expect(checkEnrollmentReply(reply, pki.device)).toContain(
      'announce body has the unexpected member "to", but it must contain only seq, owner, type and data',
    );
  });

  test("rejects an array-valued top-level member", () => {
    const reply = { ...goodReply, "Account.defaultModerators": ["0123"] };
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      'top-level member "Account.defaultModerators" is an array, but the client accepts only string, number, boolean or null members',
    ]);
  });

  test("rejects Account.managerUri", () => {
    const reply = { ...goodReply, "Account.managerUri": "https://elsewhere.example.test" };
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      'dangerous account setting "Account.managerUri" is present, but the server must never send it',
    ]);
  });

  test("rejects Account.archiveHasPassword false", () => {
    const reply = { ...goodReply, "Account.archiveHasPassword": "false" };
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      'Account.archiveHasPassword is the string "false", so the Qt client revokes devices with an empty password',
    ]);
  });

  test("rejects a missing nameServer", () => {
    const reply: Record<string, unknown> = { ...goodReply };
    delete reply.nameServer;
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([
      "nameServer is missing, but the client needs a string to look up its own name",
    ]);
  });

  test("rejects a reply that is an array", () => {
    expect(checkEnrollmentReply([goodReply], pki.device)).toEqual([
      "the enrolment reply is an array, expected a JSON object",
    ]);
  });

  test("recommendations flag an upper-case nameServer", () => {
    const reply = { ...goodReply, nameServer: "/api/nameServer" };
    expect(checkEnrollmentReply(reply, pki.device)).toEqual([]);
    expect(checkEnrollmentRecommendations(reply, pki.device)).toEqual([
      'nameServer "/api/nameServer" has upper-case letters, but the client lower-cases it',
    ]);
  });
});

describe("encodeCanonicalAnnounceBody", () => {
  const cases = [
    { seq: 0, ownerLength: 5, dataLength: 0 },
    { seq: 127, ownerLength: 255, dataLength: 1 },
    { seq: 128, ownerLength: 256, dataLength: 300 },
    { seq: 255, ownerLength: 294, dataLength: 70000 },
    { seq: 256, ownerLength: 550, dataLength: 65535 },
    { seq: 65535, ownerLength: 65536, dataLength: 42 },
  ];

  for (const { seq, ownerLength, dataLength } of cases) {
    test(`matches msgpack for seq ${seq}, owner ${ownerLength} bytes`, () => {
      const owner = new Uint8Array(ownerLength).fill(7);
      const data = new Uint8Array(dataLength).fill(9);
      const expected = encodeMsgpack({ seq, owner, type: 0, data });
      expect(Buffer.from(encodeCanonicalAnnounceBody({ seq, owner, type: 0, data }))).toEqual(Buffer.from(expected));
    });
  }
});

describe("checkTokenReply", () => {
  test("accepts a device token", () => {
    expect(checkTokenReply({ access_token: "abc", scope: "DEVICE", expires_in: 3600 }, "DEVICE")).toEqual([]);
  });

  test("rejects a lowercase scope", () => {
    expect(checkTokenReply({ access_token: "abc", scope: "device", expires_in: 3600 }, "DEVICE")).toEqual([
      'scope is the string "device", expected exactly "DEVICE"',
    ]);
  });

  test("rejects a user scope where DEVICE is expected", () => {
    expect(checkTokenReply({ access_token: "abc", scope: "USER", expires_in: 3600 }, "DEVICE")).toEqual([
      'scope is the string "USER", expected exactly "DEVICE"',
    ]);
  });

  test("rejects expires_in as a string", () => {
    expect(checkTokenReply({ access_token: "abc", scope: "USER", expires_in: "3600" }, "USER")).toEqual([
      'expires_in is the string "3600", expected a JSON integer of at least 1',
    ]);
  });

  test("rejects zero and fractional expires_in", () => {
    expect(checkTokenReply({ access_token: "abc", scope: "USER", expires_in: 0 }, "USER")).toEqual([
      "expires_in is the number 0, expected a JSON integer of at least 1",
    ]);
    expect(checkTokenReply({ access_token: "abc", scope: "USER", expires_in: 1.5 }, "USER")).toEqual([
      "expires_in is the number 1.5, expected a JSON integer of at least 1",
    ]);
  });

  test("rejects an empty access_token", () => {
    expect(checkTokenReply({ access_token: "", scope: "USER", expires_in: 60 }, "USER")).toEqual([
      'access_token is the string "", expected a non-empty string',
    ]);
  });
});

describe("checkDeviceList", () => {
  const longId = "a".repeat(64);

  test("accepts a valid list", () => {
    expect(checkDeviceList([{ deviceId: longId, alias: "laptop", revoked: false }])).toEqual([]);
  });

  test("rejects a 40-hex device ID", () => {
    expect(checkDeviceList([{ deviceId: "a".repeat(40), alias: "laptop", revoked: false }])).toEqual([
      `device list element 0 deviceId is the string "${"a".repeat(40)}", expected 64 lowercase hex characters`,
    ]);
  });

  test("rejects revoked as a string", () => {
    expect(checkDeviceList([{ deviceId: longId, alias: "laptop", revoked: "false" }])).toEqual([
      'device list element 0 revoked is the string "false", expected a JSON boolean',
    ]);
  });

  test("rejects a missing alias", () => {
    expect(checkDeviceList([{ deviceId: longId, revoked: true }])).toEqual([
      "device list element 0 alias is missing, expected a string",
    ]);
  });

  test("rejects an object instead of an array", () => {
    expect(checkDeviceList({ devices: [] })).toEqual(["the device list is an object, expected a JSON array"]);
  });
});

describe("jsoncppStyle", () => {
  test("writes the enrolment body with tabs and sorted keys", () => {
    const body = jsoncppStyle({ deviceName: "host", csr: "-----BEGIN X-----\nAB\n" });
    expect(body).toBe('{\n\t"csr" : "-----BEGIN X-----\\nAB\\n",\n\t"deviceName" : "host"\n}');
  });

  test("writes empty containers inline", () => {
    expect(jsoncppStyle({})).toBe("{}");
    expect(jsoncppStyle([])).toBe("[]");
    expect(jsoncppStyle({ a: {}, b: [] })).toBe('{\n\t"a" : {},\n\t"b" : []\n}');
  });

  test("starts nested containers on their own line", () => {
    const text = jsoncppStyle([{ uri: "x", added: 1700000000, members: [{ uri: "y" }] }]);
    expect(text).toBe(
      '[\n\t{\n\t\t"added" : 1700000000,\n\t\t"members" : \n\t\t[\n\t\t\t{\n\t\t\t\t"uri" : "y"\n\t\t\t}\n\t\t],\n\t\t"uri" : "x"\n\t}\n]',
    );
  });

  test("escapes non-ASCII and control characters", () => {
    expect(jsoncppStyle("é😀\u0001/\u007f")).toBe('"\\u00e9\\ud83d\\ude00\\u0001/\u007f"');
  });

  test("sorts keys by UTF-8 bytes", () => {
    expect(jsoncppStyle({ b: 1, é: 2, B: 3, a: 4 })).toBe('{\n\t"B" : 3,\n\t"a" : 4,\n\t"b" : 1,\n\t"\\u00e9" : 2\n}');
  });

  test("formats numbers like jsoncpp", () => {
    expect(jsoncppStyle([1700000000000, -3, 0.5, 0.1, 1e21, null, true])).toBe(
      "[\n\t1700000000000,\n\t-3,\n\t0.5,\n\t0.10000000000000001,\n\t1e+21,\n\tnull,\n\ttrue\n]",
    );
  });
});

describe("request building", () => {
  test("a trailing slash doubles the path slash", () => {
    const { origin, target } = buildManagerUrl("https://jams.example.test:8443/", "/api/auth/device");
    expect(origin.host).toBe("jams.example.test:8443");
    expect(target).toBe("//api/auth/device");
  });

  test("a manager URI without scheme gets https", () => {
    const { origin, target } = buildManagerUrl("jams.example.test/prefix", "/api/login");
    expect(origin.protocol).toBe("https:");
    expect(target).toBe("/prefix/api/login");
  });

  test("name server URL is lower-cased", () => {
    expect(resolveNameServerUrl("https://JAMS.example.test", "/api/nameServer/")).toBe(
      "https://jams.example.test/api/nameserver",
    );
  });

  test("names are percent-encoded with uppercase hex", () => {
    expect(encodeNameForLookup("jean luc-é")).toBe("jean%20luc-%C3%A9");
  });
});

describe("makeJamiCsr", () => {
  let device: DeviceKey;
  let pem: string;

  beforeAll(async () => {
    device = makeDeviceKey(2048);
    pem = await makeJamiCsr(device);
  });

  test("uses the NEW CERTIFICATE REQUEST label", () => {
    expect(pem.startsWith("-----BEGIN NEW CERTIFICATE REQUEST-----\n")).toBe(true);
    expect(pem.endsWith("\n-----END NEW CERTIFICATE REQUEST-----\n")).toBe(true);
    expect(pem).not.toContain("\r");
  });

  test("has the daemon's subject, key and algorithm", async () => {
    const request = new x509.Pkcs10CertificateRequest(Uint8Array.from(pemToDer(pem)));
    expect(request.subjectName.toJSON()).toEqual([{ CN: ["Jami device"] }, { [UID_OID]: [device.shortId] }]);
    expect(request.attributes).toHaveLength(0);
    expect(request.extensions).toHaveLength(0);
    expect(request.signatureAlgorithm).toMatchObject({ name: "RSASSA-PKCS1-v1_5", hash: { name: "SHA-256" } });
    expect(Buffer.from(request.publicKey.rawData)).toEqual(Buffer.from(device.spkiDer));
    expect(await request.verify(subtleCrypto)).toBe(true);
  });

  test("passes openssl req -verify", () => {
    const relabelled = pem.replaceAll("NEW CERTIFICATE REQUEST", "CERTIFICATE REQUEST");
    const verification = spawnSync("openssl", ["req", "-verify", "-noout"], { input: relabelled, encoding: "utf8" });
    expect(verification.status).toBe(0);
    expect(verification.stderr + verification.stdout).toContain("verify OK");
  });

  test("is version 1 with PrintableString names", () => {
    const relabelled = pem.replaceAll("NEW CERTIFICATE REQUEST", "CERTIFICATE REQUEST");
    const text = spawnSync("openssl", ["req", "-noout", "-text"], { input: relabelled, encoding: "utf8" }).stdout;
    expect(text).toContain("Version: 1 (0x0)");
    const structure = spawnSync("openssl", ["asn1parse"], { input: relabelled, encoding: "utf8" }).stdout;
    expect(structure).toContain("PRINTABLESTRING   :Jami device");
    expect(structure).toContain(`PRINTABLESTRING   :${device.shortId}`);
  });
});
