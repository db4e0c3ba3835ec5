/**
 * @module Client-side acceptance checks for JAMS replies, reimplemented from what the Jami daemon
 * verifies at enrolment and at every later start (certificate chain, device receipt, receipt
 * signature, DHT announce), plus the shape checks for token and device-list replies.
 * Every check returns a list of human-readable failures; an empty list means the client accepts.
 */
import { decode as decodeMsgpack } from "@msgpack/msgpack";
import { X509Certificate, createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The identifiers of the device key that was sent in the CSR. */
export interface EnrolledDevice {
  /** DER SubjectPublicKeyInfo of the device key. */
  spkiDer: Uint8Array;
  /** SHA-1 of the SPKI, 40 lowercase hex characters. */
  shortId: string;
  /** SHA-256 of the SPKI, 64 lowercase hex characters. */
  longId: string;
}

/** Token scopes that `/api/login` may return. */
export type TokenScope = "DEVICE" | "USER";

const UID_OID = "0.9.2342.19200300.100.1.1";
const BASIC_CONSTRAINTS_OID = "2.5.29.19";
const KEY_USAGE_OID = "2.5.29.15";
const MIN_RSA_BITS = 2048;
const ONE_DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Account settings that break a JAMS account when the server sends them, because the client
 * applies every top-level member of the enrolment reply to the account configuration.
 */
export const DANGEROUS_ACCOUNT_KEYS: readonly string[] = [
  "TLS.certificateFile",
  "TLS.privateKeyFile",
  "TLS.password",
  "TLS.certificateListFile",
  "Account.managerUri",
  "Account.managerUsername",
  "Account.archivePassword",
  "Account.archivePasswordScheme",
  "Account.archivePath",
  "Account.archiveURL",
  "Account.deviceName",
];

// ---------------------------------------------------------------------------------------------
// DER reading. Names, keys and signed bytes are compared as raw DER, as GnuTLS compares them.

interface DerElement {
  tag: number;
  /** The whole element, header included. */
  bytes: Uint8Array;
  /** The value bytes only. */
  content: Uint8Array;
}

function readDerElement(input: Uint8Array, offset = 0): DerElement {
  const tag = input[offset];
  const firstLengthByte = input[offset + 1];
  if (tag === undefined || firstLengthByte === undefined) {
    throw new Error(`DER element at offset ${offset} is truncated`);
  }
  if ((tag & 0x1f) === 0x1f) {
    throw new Error(`DER element at offset ${offset} uses a multi-byte tag, which X.509 does not`);
  }
  let length = firstLengthByte;
  let headerLength = 2;
  if (firstLengthByte & 0x80) {
    const lengthByteCount = firstLengthByte & 0x7f;
    if (lengthByteCount === 0 || lengthByteCount > 4) {
      throw new Error(`DER element at offset ${offset} has an unsupported length form`);
    }
    length = 0;
    for (let index = 0; index < lengthByteCount; index++) {
      const byte = input[offset + 2 + index];
      if (byte === undefined) {
        throw new Error(`DER element at offset ${offset} is truncated`);
      }
      length = length * 256 + byte;
    }
    headerLength += lengthByteCount;
  }
  const end = offset + headerLength + length;
  if (end > input.length) {
    throw new Error(`DER element at offset ${offset} is longer than its input`);
  }
  return {
    tag,
    bytes: input.subarray(offset, end),
    content: input.subarray(offset + headerLength, end),
  };
}

function readDerChildren(element: DerElement): DerElement[] {
  const children: DerElement[] = [];
  let offset = 0;
  while (offset < element.content.length) {
    const child = readDerElement(element.content, offset);
    children.push(child);
    offset += child.bytes.length;
  }
  return children;
}

function decodeOid(content: Uint8Array): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const [first = 0, ...rest] = arcs;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...rest].join(".");
}

/** Decodes a DER UTCTime (tag 0x17) or GeneralizedTime (tag 0x18) in UTC with seconds. */
function decodeDerTime(element: DerElement): Date {
  const text = Buffer.from(element.content).toString("latin1");
  const utcTime = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  const generalizedTime = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  let fields: string[];
  if (element.tag === 0x17 && utcTime) {
    const shortYear = Number(utcTime[1]);
    fields = [String(shortYear >= 50 ? 1900 + shortYear : 2000 + shortYear), ...utcTime.slice(2)];
  } else if (element.tag === 0x18 && generalizedTime) {
    fields = generalizedTime.slice(1);
  } else {
    throw new Error(`invalid DER time "${text}" with tag 0x${element.tag.toString(16)}`);
  }
  const [year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0] = fields.map(Number);
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

function decodeDerString(element: DerElement): string {
  const content = Buffer.from(element.content);
  switch (element.tag) {
    case 0x0c: // UTF8String
      return content.toString("utf8");
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString, decoded as Latin-1
      return content.toString("latin1");
    case 0x1e: // BMPString, UTF-16BE
      return Buffer.from(content).swap16().toString("utf16le");
    default:
      throw new Error(`unsupported string tag 0x${element.tag.toString(16)} in a name`);
  }
}

/** Returns the values of every attribute with the given OID in a DER Name, in order. */
function readNameValues(name: DerElement, oid: string): string[] {
  const values: string[] = [];
  for (const relativeName of readDerChildren(name)) {
    for (const attribute of readDerChildren(relativeName)) {
      const [type, value] = readDerChildren(attribute);
      if (type !== undefined && value !== undefined && decodeOid(type.content) === oid) {
        values.push(decodeDerString(value));
      }
    }
  }
  return values;
}

function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(left), Buffer.from(right)) === 0;
}

function sha1Hex(bytes: Uint8Array): string {
  return createHash("sha1").update(bytes).digest("hex");
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

// ---------------------------------------------------------------------------------------------
// Certificate parsing.

interface CertificateExtension {
  critical: boolean;
  /** Content of the extnValue OCTET STRING. */
  value: Uint8Array;
}

interface ParsedCertificate {
  /** Position and role used in messages, such as `certificate 2 (account)`. */
  label: string;
  tbs: Uint8Array;
  tbsSignatureAlgorithm: Uint8Array;
  signatureAlgorithm: Uint8Array;
  signatureAlgorithmOid: string;
  signature: Uint8Array;
  issuer: DerElement;
  subject: DerElement;
  spki: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  extensions: Map<string, CertificateExtension>;
  publicKey: KeyObject;
}

const CHAIN_ROLES = ["device", "account", "CA"];

function certificateLabel(index: number): string {
  const role = CHAIN_ROLES[index];
  return role === undefined ? `certificate ${index + 1}` : `certificate ${index + 1} (${role})`;
}

function requireElement(element: DerElement | undefined, field: string): DerElement {
  if (element === undefined) {
    throw new Error(`the certificate has no ${field}`);
  }
  return element;
}

function readExtensions(element: DerElement | undefined): Map<string, CertificateExtension> {
  const extensions = new Map<string, CertificateExtension>();
  if (element === undefined) {
    return extensions;
  }
  const [sequence] = readDerChildren(element);
  for (const extension of sequence === undefined ? [] : readDerChildren(sequence)) {
    const children = readDerChildren(extension);
    const oid = decodeOid(requireElement(children[0], "extension OID").content);
    const criticalFlag = children.length === 3 ? children[1] : undefined;
    const value = requireElement(children[children.length - 1], "extension value");
    extensions.set(oid, {
      critical: criticalFlag !== undefined && criticalFlag.content[0] !== 0,
      value: value.content,
    });
  }
  return extensions;
}

/** Parses the fields the checks need from a DER certificate. Throws on malformed DER. */
function parseCertificateDer(der: Uint8Array, label: string): ParsedCertificate {
  const certificate = readDerElement(der);
  if (certificate.bytes.length !== der.length) {
    throw new Error(`${der.length - certificate.bytes.length} bytes follow the certificate`);
  }

  const [tbsElement, algorithmElement, signatureElement] = readDerChildren(certificate);
  const tbs = requireElement(tbsElement, "tbsCertificate");
  const algorithm = requireElement(algorithmElement, "signatureAlgorithm");
  const signatureBits = requireElement(signatureElement, "signatureValue");

  const tbsFields = readDerChildren(tbs);
  // The optional [0] version comes first. A certificate without it is v1.
  const fields = tbsFields[0]?.tag === 0xa0 ? tbsFields.slice(1) : tbsFields;
  const [, tbsAlgorithm, issuer, validity, subject, spki] = fields;
  const [notBefore, notAfter] = readDerChildren(requireElement(validity, "validity"));
  const algorithmOid = readDerChildren(algorithm)[0];
  const spkiElement = requireElement(spki, "subjectPublicKeyInfo");

  return {
    label,
    tbs: tbs.bytes,
    tbsSignatureAlgorithm: requireElement(tbsAlgorithm, "TBS signature algorithm").bytes,
    signatureAlgorithm: algorithm.bytes,
    signatureAlgorithmOid: decodeOid(requireElement(algorithmOid, "signature algorithm OID").content),
    signature: signatureBits.content.subarray(1),
    issuer: requireElement(issuer, "issuer"),
    subject: requireElement(subject, "subject"),
    spki: spkiElement.bytes,
    notBefore: decodeDerTime(requireElement(notBefore, "notBefore")),
    notAfter: decodeDerTime(requireElement(notAfter, "notAfter")),
    extensions: readExtensions(fields.find((field) => field.tag === 0xa3)),
    publicKey: createPublicKey({ key: Buffer.from(spkiElement.bytes), format: "der", type: "spki" }),
  };
}

interface PemBlock {
  label: string;
  der: Uint8Array;
}

function splitPemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const match of text.matchAll(pattern)) {
    const base64 = (match[2] ?? "").replace(/\s+/g, "");
    blocks.push({ label: match[1] ?? "", der: new Uint8Array(Buffer.from(base64, "base64")) });
  }
  return blocks;
}

/**
 * Parses `certificateChain` into certificates, adding a failure for every problem that keeps
 * the chain from being used. Returns undefined when fewer than 2 certificates can be read.
 */
function parseCertificateChain(value: unknown, failures: string[]): ParsedCertificate[] | undefined {
  if (typeof value !== "string") {
    failures.push(`certificateChain is ${describeJsonType(value)}, but the client requires a string of PEM certificates`);
    return undefined;
  }
  const blocks = splitPemBlocks(value);
  const chain: ParsedCertificate[] = [];
  blocks.forEach((block, index) => {
    const label = certificateLabel(index);
    if (block.label !== "CERTIFICATE") {
      failures.push(`certificateChain block ${index + 1} is labelled "${block.label}", expected "CERTIFICATE"`);
      return;
    }
    try {
      new X509Certificate(Buffer.from(block.der));
      chain.push(parseCertificateDer(block.der, label));
    } catch (error) {
      failures.push(`${label} cannot be parsed: ${(error as Error).message}`);
    }
  });
  if (chain.length !== blocks.length) {
    return undefined;
  }
  return checkChainLength(chain, failures) ? chain : undefined;
}

/** Adds a failure unless the chain has 3 certificates. Returns false when it has fewer than 2. */
function checkChainLength(chain: ParsedCertificate[], failures: string[]): boolean {
  if (chain.length < 2) {
    failures.push(
      `certificateChain has ${chain.length} certificate(s), but the client requires at least 2 (device, account)`,
    );
    return false;
  }
  if (chain.length === 2) {
    failures.push(
      "certificateChain has no CA certificate (2 certificates, expected 3: device, account, CA), so the client pins no organisation CA",
    );
  } else if (chain.length > 3) {
    failures.push(`certificateChain has ${chain.length} certificates, expected 3 (device, account, CA)`);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Certificate chain checks.

interface SignatureAlgorithm {
  name: string;
  /** Digest name for crypto.verify, or null for Ed25519. */
  hash: string | null;
  /** True when the digest is SHA-256 or stronger. */
  strong: boolean;
}

const SIGNATURE_ALGORITHMS: Record<string, SignatureAlgorithm> = {
  "1.2.840.113549.1.1.4": { name: "md5WithRSAEncryption", hash: "md5", strong: false },
  "1.2.840.113549.1.1.5": { name: "sha1WithRSAEncryption", hash: "sha1", strong: false },
  "1.2.840.113549.1.1.11": { name: "sha256WithRSAEncryption", hash: "sha256", strong: true },
  "1.2.840.113549.1.1.12": { name: "sha384WithRSAEncryption", hash: "sha384", strong: true },
  "1.2.840.113549.1.1.13": { name: "sha512WithRSAEncryption", hash: "sha512", strong: true },
  "1.2.840.10045.4.1": { name: "ecdsa-with-SHA1", hash: "sha1", strong: false },
  "1.2.840.10045.4.3.2": { name: "ecdsa-with-SHA256", hash: "sha256", strong: true },
  "1.2.840.10045.4.3.3": { name: "ecdsa-with-SHA384", hash: "sha384", strong: true },
  "1.2.840.10045.4.3.4": { name: "ecdsa-with-SHA512", hash: "sha512", strong: true },
  "1.3.101.112": { name: "Ed25519", hash: null, strong: true },
};

/** Returns true when the certificate's signature verifies with the given public key. */
function certificateSignatureVerifies(certificate: ParsedCertificate, issuerKey: KeyObject): boolean {
  const algorithm = SIGNATURE_ALGORITHMS[certificate.signatureAlgorithmOid];
  if (algorithm === undefined) {
    return false;
  }
  try {
    return verify(algorithm.hash, certificate.tbs, issuerKey, certificate.signature);
  } catch {
    // A key of another type than the signature algorithm makes crypto.verify throw.
    return false;
  }
}

function isSelfSigned(certificate: ParsedCertificate): boolean {
  return (
    bytesEqual(certificate.issuer.bytes, certificate.subject.bytes) ||
    certificateSignatureVerifies(certificate, certificate.publicKey)
  );
}

function checkChainOrder(chain: ParsedCertificate[]): string[] {
  const failures: string[] = [];
  for (let index = 0; index + 1 < chain.length; index++) {
    const [child, parent] = [chain[index], chain[index + 1]] as [ParsedCertificate, ParsedCertificate];
    if (!bytesEqual(child.issuer.bytes, parent.subject.bytes)) {
      failures.push(
        `${child.label} issuer DN does not match ${parent.label} subject DN byte for byte, so GnuTLS rejects the chain as unsorted`,
      );
    }
  }
  return failures;
}

function checkChainSignatures(chain: ParsedCertificate[]): string[] {
  const failures: string[] = [];
  for (let index = 0; index + 1 < chain.length; index++) {
    const [child, parent] = [chain[index], chain[index + 1]] as [ParsedCertificate, ParsedCertificate];
    if (!certificateSignatureVerifies(child, parent.publicKey)) {
      failures.push(`${child.label} signature does not verify with the public key of ${parent.label}`);
    }
  }
  const device = chain[0];
  if (device !== undefined && isSelfSigned(device)) {
    failures.push(`${device.label} is self-signed, but peers reject a device whose top issuer is itself`);
  }
  const ca = chain[2];
  if (ca !== undefined && !(bytesEqual(ca.issuer.bytes, ca.subject.bytes) && certificateSignatureVerifies(ca, ca.publicKey))) {
    failures.push(`${ca.label} is not self-signed`);
  }
  return failures;
}

/** Decodes basicConstraints: true when the cA flag is set. */
function hasCaFlag(certificate: ParsedCertificate): boolean {
  const extension = certificate.extensions.get(BASIC_CONSTRAINTS_OID);
  if (extension === undefined) {
    return false;
  }
  const [first] = readDerChildren(readDerElement(extension.value));
  return first !== undefined && first.tag === 0x01 && first.content[0] !== 0;
}

/** Decodes keyUsage and returns whether bit `bit` is set, or undefined without the extension. */
function hasKeyUsageBit(certificate: ParsedCertificate, bit: number): boolean | undefined {
  const extension = certificate.extensions.get(KEY_USAGE_OID);
  if (extension === undefined) {
    return undefined;
  }
  // BIT STRING content: one byte with the count of unused bits, then the bits, most significant first.
  const bits = readDerElement(extension.value).content;
  const byte = bits[1 + (bit >> 3)] ?? 0;
  return (byte & (0x80 >> (bit & 7))) !== 0;
}

const KEY_USAGE_DIGITAL_SIGNATURE = 0;
const KEY_USAGE_KEY_ENCIPHERMENT = 2;
const KEY_USAGE_KEY_CERT_SIGN = 5;

function checkCaFlags(chain: ParsedCertificate[]): string[] {
  const failures: string[] = [];
  const [device, ...issuers] = chain;
  if (device !== undefined && hasCaFlag(device)) {
    failures.push(`${device.label} is a CA (basicConstraints CA:TRUE), but a device certificate must not be`);
  }
  for (const issuer of issuers.slice(0, 2)) {
    if (!hasCaFlag(issuer)) {
      failures.push(`${issuer.label} is not a CA (basicConstraints CA:TRUE is missing), so GnuTLS rejects it as an issuer`);
    }
    if (hasKeyUsageBit(issuer, KEY_USAGE_KEY_CERT_SIGN) === false) {
      failures.push(`${issuer.label} has a keyUsage extension without keyCertSign`);
    }
  }
  return failures;
}

function describeKey(key: KeyObject): string {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  return bits === undefined ? String(key.asymmetricKeyType) : `${key.asymmetricKeyType} ${bits}-bit`;
}

function checkKeyTypes(chain: ParsedCertificate[]): string[] {
  const failures: string[] = [];
  chain.forEach((certificate, index) => {
    const key = certificate.publicKey;
    const mustBeRsa = index < 2;
    if (mustBeRsa && key.asymmetricKeyType !== "rsa") {
      failures.push(`${certificate.label} key is ${describeKey(key)}, but the client requires an RSA (rsaEncryption) key`);
      return;
    }
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (key.asymmetricKeyType === "rsa" && bits !== undefined && bits < MIN_RSA_BITS) {
      failures.push(`${certificate.label} RSA key has ${bits} bits, below the ${MIN_RSA_BITS} that the GnuTLS MEDIUM profile requires`);
    }
  });
  return failures;
}

function checkSignatureAlgorithms(chain: ParsedCertificate[]): string[] {
  const failures: string[] = [];
  for (const certificate of chain) {
    const algorithm = SIGNATURE_ALGORITHMS[certificate.signatureAlgorithmOid];
    if (algorithm === undefined) {
      failures.push(`${certificate.label} uses signature algorithm ${certificate.signatureAlgorithmOid}, which this checker cannot verify`);
    } else if (!algorithm.strong) {
      failures.push(`${certificate.label} is signed with ${algorithm.name}, but the GnuTLS MEDIUM profile requires SHA-256 or better`);
    }
    if (!bytesEqual(certificate.tbsSignatureAlgorithm, certificate.signatureAlgorithm)) {
      failures.push(`${certificate.label} TBS signature algorithm differs from its outer signatureAlgorithm`);
    }
  }
  return failures;
}

function checkValidity(chain: ParsedCertificate[], now: Date): string[] {
  const failures: string[] = [];
  for (const certificate of chain) {
    if (now < certificate.notBefore) {
      failures.push(`${certificate.label} is not valid before ${certificate.notBefore.toISOString()}`);
    }
    if (now > certificate.notAfter) {
      failures.push(`${certificate.label} expired at ${certificate.notAfter.toISOString()}`);
    }
  }
  return failures;
}

function checkAccountUid(device: ParsedCertificate, account: ParsedCertificate): string[] {
  const accountId = sha1Hex(account.spki);
  const failures: string[] = [];
  if (!readNameValues(device.issuer, UID_OID).includes(accountId)) {
    failures.push(`${device.label} issuer DN has no UID=${accountId} (the account ID)`);
  }
  if (!readNameValues(account.subject, UID_OID).includes(accountId)) {
    failures.push(`${account.label} subject DN has no UID=${accountId} (the account ID)`);
  }
  return failures;
}

function checkCertificateChain(chain: ParsedCertificate[], device: EnrolledDevice, now: Date): string[] {
  const [deviceCertificate, account] = chain as [ParsedCertificate, ParsedCertificate];
  const failures = [...checkChainOrder(chain)];
  if (!bytesEqual(deviceCertificate.spki, device.spkiDer)) {
    failures.push(`${deviceCertificate.label} public key differs from the CSR public key`);
  }
  failures.push(
    ...checkChainSignatures(chain),
    ...checkCaFlags(chain),
    ...checkKeyTypes(chain),
    ...checkSignatureAlgorithms(chain),
    ...checkValidity(chain, now),
    ...checkAccountUid(deviceCertificate, account),
  );
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Top-level members of the enrolment reply.

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Describes the JSON type of a value for messages, such as `an array` or `the string "x"`. */
function describeJsonType(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `the ${typeof value} ${value}`;
  return "an object";
}

function checkScalarMembers(reply: Record<string, unknown>): string[] {
  const failures: string[] = [];
  for (const [key, value] of Object.entries(reply)) {
    if (typeof value === "object" && value !== null) {
      failures.push(
        `top-level member "${key}" is ${describeJsonType(value)}, but the client accepts only string, number, boolean or null members`,
      );
    }
  }
  return failures;
}

function checkDangerousKeys(reply: Record<string, unknown>): string[] {
  const failures = DANGEROUS_ACCOUNT_KEYS.filter((key) => key in reply).map(
    (key) => `dangerous account setting "${key}" is present, but the server must never send it`,
  );
  // The client treats any non-empty value other than "true" as false.
  const hasPassword = reply["Account.archiveHasPassword"];
  if (hasPassword !== undefined && hasPassword !== null && hasPassword !== "" && String(hasPassword) !== "true") {
    failures.push(
      `Account.archiveHasPassword is ${describeJsonType(hasPassword)}, so the Qt client revokes devices with an empty password`,
    );
  }
  return failures;
}

function checkNameServer(value: unknown): string[] {
  if (typeof value !== "string") {
    return [`nameServer is ${describeJsonType(value)}, but the client needs a string to look up its own name`];
  }
  if (value === "") {
    return ["nameServer is empty"];
  }
  if (value.startsWith("/") || /^https?:\/\/[^/]/.test(value)) {
    return [];
  }
  return [`nameServer ${JSON.stringify(value)} is neither an absolute http(s) URL nor a path starting with "/"`];
}

function checkProfileMembers(reply: Record<string, unknown>): string[] {
  const failures: string[] = [];
  for (const key of ["userPhoto", "Account.displayName"]) {
    const value = reply[key];
    if (value !== undefined && typeof value !== "string") {
      failures.push(`${key} is ${describeJsonType(value)}, expected a string`);
    }
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Receipt, receipt signature and announce.

/** Decodes standard base64 as simdutf does by default, or returns a failure message. */
function decodeStandardBase64(text: string, name: string): Uint8Array | string {
  const compact = text.replace(/[ \t\r\n\f]/g, "");
  if (/[-_]/.test(compact)) {
    return `${name} uses the URL-safe base64 alphabet (- or _), which the client rejects`;
  }
  const unpaddedLength = compact.replace(/=+$/, "").length;
  const paddingValid = !compact.includes("=") || compact.length % 4 === 0;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || !paddingValid || unpaddedLength % 4 === 1) {
    return `${name} is not valid standard base64`;
  }
  return new Uint8Array(Buffer.from(compact, "base64"));
}

/** The account certificate's key and ID, when the chain could be parsed. */
interface AccountIdentity {
  id: string;
  publicKey: KeyObject;
}

function checkReceiptSignature(reply: Record<string, unknown>, receipt: string, account?: AccountIdentity): string[] {
  const value = reply.receiptSignature;
  if (value === undefined) {
    return ["receiptSignature is missing, so the client falls into ERROR_NEED_MIGRATION at its next start"];
  }
  if (typeof value !== "string") {
    return [`receiptSignature is ${describeJsonType(value)}, expected a base64 string`];
  }
  const signature = decodeStandardBase64(value, "receiptSignature");
  if (typeof signature === "string") {
    return [signature];
  }
  if (signature.length === 0) {
    return ["receiptSignature is empty"];
  }
  if (account === undefined || account.publicKey.asymmetricKeyType !== "rsa") {
    return [];
  }
  if (!verify("sha512", Buffer.from(receipt, "utf8"), account.publicKey, signature)) {
    return ["receiptSignature does not verify over the deviceReceipt bytes with the account key (RSA PKCS#1 v1.5 SHA-512)"];
  }
  return [];
}

function parseReceipt(value: unknown, failures: string[]): Record<string, unknown> | undefined {
  if (typeof value !== "string") {
    failures.push(`deviceReceipt is ${describeJsonType(value)}, but the client requires a string containing a JSON object`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    failures.push(`deviceReceipt is not valid JSON: ${(error as Error).message}`);
    return undefined;
  }
  if (!isJsonObject(parsed)) {
    failures.push(`deviceReceipt contains ${describeJsonType(parsed)}, expected a JSON object`);
    return undefined;
  }
  return parsed;
}

function checkReceiptIds(receipt: Record<string, unknown>, device: EnrolledDevice, account?: AccountIdentity): string[] {
  const failures: string[] = [];
  if (account !== undefined && receipt.id !== account.id) {
    failures.push(`deviceReceipt id is ${describeJsonType(receipt.id)}, expected the account ID "${account.id}"`);
  }
  if (receipt.dev !== device.shortId) {
    failures.push(`deviceReceipt dev is ${describeJsonType(receipt.dev)}, expected the device short ID "${device.shortId}"`);
  }
  if (typeof receipt.announce !== "string") {
    failures.push(`deviceReceipt announce is ${describeJsonType(receipt.announce)}, expected a base64 string`);
  }
  return failures;
}

function checkReceipt(reply: Record<string, unknown>, device: EnrolledDevice, account?: AccountIdentity): string[] {
  const failures: string[] = [];
  const receipt = parseReceipt(reply.deviceReceipt, failures);
  if (receipt === undefined) {
    return failures;
  }
  failures.push(...checkReceiptIds(receipt, device, account));
  failures.push(...checkReceiptSignature(reply, reply.deviceReceipt as string, account));
  if (typeof receipt.announce === "string") {
    failures.push(...checkAnnounce(receipt.announce, device, account));
  }
  return failures;
}

function isMsgpackMap(value: unknown): value is Record<string, unknown> {
  return isJsonObject(value) && !(value instanceof Uint8Array);
}

function isUnsignedInteger(value: unknown, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max;
}

/** Fields of an announce body, as the client re-encodes them to check the signature. */
export interface AnnounceBody {
  seq: number;
  /** DER SPKI of the account key. */
  owner: Uint8Array;
  type: number;
  data: Uint8Array;
}

function encodeMsgpackUnsigned(value: number): number[] {
  if (value < 0x80) return [value];
  if (value <= 0xff) return [0xcc, value];
  if (value <= 0xffff) return [0xcd, value >> 8, value & 0xff];
  if (value <= 0xffffffff) return [0xce, ...uint32BigEndian(value)];
  return [0xcf, ...uint32BigEndian(Math.floor(value / 2 ** 32)), ...uint32BigEndian(value % 2 ** 32)];
}

function uint32BigEndian(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function encodeMsgpackBinHeader(length: number): number[] {
  if (length <= 0xff) return [0xc4, length];
  if (length <= 0xffff) return [0xc5, length >> 8, length & 0xff];
  return [0xc6, ...uint32BigEndian(length)];
}

function encodeMsgpackFixstr(text: string): number[] {
  return [0xa0 | text.length, ...Buffer.from(text, "ascii")];
}

/**
 * Encodes an announce body as OpenDHT's `Value::msgpack_pack_to_sign` does for a value without
 * `to` and `utype`. The result is a fixmap of 4 with the fixstr keys `seq`, `owner`, `type` and
 * `data` in that order. Unsigned integers take their smallest encoding, and binaries the
 * smallest bin header. These are the bytes that the announce signature must cover.
 */
export function encodeCanonicalAnnounceBody(body: AnnounceBody): Uint8Array {
  const bytes: number[] = [0x84];
  bytes.push(...encodeMsgpackFixstr("seq"), ...encodeMsgpackUnsigned(body.seq));
  bytes.push(...encodeMsgpackFixstr("owner"), ...encodeMsgpackBinHeader(body.owner.length), ...body.owner);
  bytes.push(...encodeMsgpackFixstr("type"), ...encodeMsgpackUnsigned(body.type));
  bytes.push(...encodeMsgpackFixstr("data"), ...encodeMsgpackBinHeader(body.data.length), ...body.data);
  return new Uint8Array(bytes);
}

/** Decodes one msgpack object that must fill the input, or returns a failure message. */
function decodeSingleMsgpack(bytes: Uint8Array, name: string): { value: unknown } | string {
  try {
    return { value: decodeMsgpack(bytes) };
  } catch (error) {
    return `${name} is not a single msgpack object: ${(error as Error).message}`;
  }
}

const ANNOUNCE_BODY_KEYS = ["seq", "owner", "type", "data"];

/** Checks the decoded body map and returns it typed, adding failures for every bad member. */
function readAnnounceBody(body: Record<string, unknown>, failures: string[]): AnnounceBody | undefined {
  for (const key of Object.keys(body)) {
    if (!ANNOUNCE_BODY_KEYS.includes(key)) {
      failures.push(`announce body has the unexpected member "${key}", but it must contain only seq, owner, type and data`);
    }
  }
  const { seq, owner, type, data } = body;
  if (!isUnsignedInteger(seq, 0xffff)) failures.push("announce body seq is not a 16-bit unsigned integer");
  if (!(owner instanceof Uint8Array)) failures.push("announce body owner is not a msgpack bin");
  if (type !== 0) failures.push("announce body type is not 0 (USER_DATA)");
  if (!(data instanceof Uint8Array)) failures.push("announce body data is not a msgpack bin");
  if (isUnsignedInteger(seq, 0xffff) && owner instanceof Uint8Array && type === 0 && data instanceof Uint8Array) {
    return { seq, owner, type, data };
  }
  return undefined;
}

/** Reads the outer announce map down to `dat.body` and `dat.sig`, adding failures on the way. */
function readAnnounceEnvelope(
  announce: string,
  failures: string[],
): { body: Record<string, unknown>; signature: Uint8Array } | undefined {
  const bytes = decodeStandardBase64(announce, "announce");
  if (typeof bytes === "string") {
    failures.push(bytes);
    return undefined;
  }
  const decoded = decodeSingleMsgpack(bytes, "announce");
  if (typeof decoded === "string") {
    failures.push(decoded);
    return undefined;
  }
  const outer = decoded.value;
  if (!isMsgpackMap(outer)) {
    failures.push("announce is not a msgpack map");
    return undefined;
  }
  // The value ID is a random uint64 that may exceed 2^53 and so decode to an imprecise number.
  if (!isUnsignedInteger(outer.id, 2 ** 64)) failures.push("announce id is not an unsigned integer");
  if (outer.p !== undefined && !isUnsignedInteger(outer.p, 2 ** 64)) failures.push("announce p is not an unsigned integer");
  const envelope = outer.dat;
  if (!isMsgpackMap(envelope)) {
    failures.push("announce dat is not a msgpack map");
    return undefined;
  }
  if (!isMsgpackMap(envelope.body)) failures.push("announce dat.body is not a msgpack map");
  if (!(envelope.sig instanceof Uint8Array)) failures.push("announce dat.sig is not a msgpack bin");
  if (!isMsgpackMap(envelope.body) || !(envelope.sig instanceof Uint8Array)) {
    return undefined;
  }
  return { body: envelope.body, signature: envelope.sig };
}

function checkAnnounceOwner(body: AnnounceBody, signature: Uint8Array, account?: AccountIdentity): string[] {
  let ownerKey: KeyObject;
  try {
    ownerKey = createPublicKey({ key: Buffer.from(body.owner), format: "der", type: "spki" });
  } catch (error) {
    return [`announce owner is not a DER SubjectPublicKeyInfo: ${(error as Error).message}`];
  }
  const failures: string[] = [];
  const canonical = encodeCanonicalAnnounceBody(body);
  if (ownerKey.asymmetricKeyType !== "rsa" || !verify("sha512", canonical, ownerKey, signature)) {
    failures.push(
      "announce signature does not verify over the canonical msgpack encoding of the body with the owner key (RSA PKCS#1 v1.5 SHA-512)",
    );
  }
  const ownerId = sha1Hex(body.owner);
  if (account !== undefined && ownerId !== account.id) {
    failures.push(`announce owner has the ID ${ownerId}, expected the account ID ${account.id}`);
  }
  return failures;
}

function checkAnnounceData(data: Uint8Array, device: EnrolledDevice): string[] {
  const decoded = decodeSingleMsgpack(data, "announce data");
  if (typeof decoded === "string") {
    return [decoded];
  }
  const map = decoded.value;
  if (!isMsgpackMap(map)) {
    return ["announce data is not a msgpack map"];
  }
  const failures: string[] = [];
  const { dev, pk } = map;
  if (!(dev instanceof Uint8Array) || dev.length !== 20) {
    failures.push("announce data dev is not a msgpack bin of exactly 20 bytes");
  } else if (Buffer.from(dev).toString("hex") !== device.shortId) {
    failures.push(`announce data dev is ${Buffer.from(dev).toString("hex")}, expected the device short ID ${device.shortId}`);
  }
  if (pk === undefined) {
    failures.push("announce data has no pk member (the device public key), which the client requires");
  } else if (!(pk instanceof Uint8Array)) {
    failures.push("announce data pk is not a msgpack bin");
  } else if (sha256Hex(pk) !== device.longId) {
    failures.push(`announce data pk has the long ID ${sha256Hex(pk)}, expected the device long ID ${device.longId}`);
  }
  return failures;
}

/** Replays the client's `parseAnnounce`: decoding, signature, owner, `dev` and `pk`. */
function checkAnnounce(announce: string, device: EnrolledDevice, account?: AccountIdentity): string[] {
  const failures: string[] = [];
  const envelope = readAnnounceEnvelope(announce, failures);
  if (envelope === undefined) {
    return failures;
  }
  const body = readAnnounceBody(envelope.body, failures);
  if (body === undefined) {
    return failures;
  }
  failures.push(...checkAnnounceOwner(body, envelope.signature, account));
  failures.push(...checkAnnounceData(body.data, device));
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Exported checks.

/**
 * Checks a 2xx reply of `POST /api/auth/device` as the Jami client does at enrolment and at
 * every later start. Returns one message per failure. An empty list means the client accepts
 * the reply, loads the account again after a restart, and can pin the organisation CA.
 *
 * @param reply the parsed JSON body.
 * @param device the key that was sent in the CSR.
 * @param now the time at which certificate validity is checked.
 */
export function checkEnrollmentReply(reply: unknown, device: EnrolledDevice, now = new Date()): string[] {
  if (!isJsonObject(reply)) {
    return [`the enrolment reply is ${describeJsonType(reply)}, expected a JSON object`];
  }
  const failures = [
    ...checkScalarMembers(reply),
    ...checkDangerousKeys(reply),
    ...checkNameServer(reply.nameServer),
    ...checkProfileMembers(reply),
  ];
  const chain = parseCertificateChain(reply.certificateChain, failures);
  let account: AccountIdentity | undefined;
  if (chain !== undefined) {
    failures.push(...checkCertificateChain(chain, device, now));
    const accountCertificate = chain[1] as ParsedCertificate;
    account = { id: sha1Hex(accountCertificate.spki), publicKey: accountCertificate.publicKey };
  }
  failures.push(...checkReceipt(reply, device, account));
  return failures;
}

function checkRecommendedUids(chain: ParsedCertificate[], device: EnrolledDevice): string[] {
  const failures: string[] = [];
  const [deviceCertificate, account, ca] = chain;
  if (deviceCertificate !== undefined && !readNameValues(deviceCertificate.subject, UID_OID).includes(device.shortId)) {
    failures.push(`${deviceCertificate.label} subject DN has no UID=${device.shortId} (the device short ID)`);
  }
  if (account !== undefined && ca !== undefined) {
    const caId = sha1Hex(ca.spki);
    if (!readNameValues(account.issuer, UID_OID).includes(caId)) {
      failures.push(`${account.label} issuer DN has no UID=${caId} (the CA short ID), so certificate stores cannot walk to the CA`);
    }
  }
  if (ca !== undefined) {
    const subjectUids = readNameValues(ca.subject, UID_OID).join(",");
    if (subjectUids !== readNameValues(ca.issuer, UID_OID).join(",")) {
      failures.push(`${ca.label} subject UID differs from its issuer UID`);
    }
  }
  return failures;
}

function checkRecommendedDeviceCertificate(device: ParsedCertificate, now: Date): string[] {
  const failures: string[] = [];
  // NOTE: one day is this checker's reading of "comfortably in the future", not a client limit.
  if (device.notAfter.getTime() - now.getTime() < ONE_DAY_MS) {
    failures.push(`${device.label} expires at ${device.notAfter.toISOString()}, less than a day from now`);
  }
  for (const [bit, name] of [
    [KEY_USAGE_DIGITAL_SIGNATURE, "digitalSignature"],
    [KEY_USAGE_KEY_ENCIPHERMENT, "keyEncipherment"],
  ] as const) {
    if (hasKeyUsageBit(device, bit) === false) {
      failures.push(`${device.label} keyUsage lacks ${name}, which peer TLS may require`);
    }
  }
  return failures;
}

/**
 * Checks the recommendations for an enrolment reply that the client does not enforce itself.
 * The device subject has UID=<device short ID>, and the account issuer has UID=<CA short ID>.
 * The self-signed CA has the same UID in subject and issuer. The device certificate stays valid
 * for at least another day and, with a keyUsage extension, allows the TLS key usages.
 * `nameServer` is lower-case, because the client lower-cases the whole name-server URL.
 * Returns one message per unmet recommendation, and nothing for replies it cannot parse.
 */
export function checkEnrollmentRecommendations(reply: unknown, device: EnrolledDevice, now = new Date()): string[] {
  if (!isJsonObject(reply)) {
    return [];
  }
  const failures: string[] = [];
  if (typeof reply.nameServer === "string" && reply.nameServer !== reply.nameServer.toLowerCase()) {
    failures.push(`nameServer ${JSON.stringify(reply.nameServer)} has upper-case letters, but the client lower-cases it`);
  }
  const chain = parseCertificateChain(reply.certificateChain, []);
  if (chain === undefined) {
    return failures;
  }
  failures.push(...checkRecommendedUids(chain, device));
  failures.push(...checkRecommendedDeviceCertificate(chain[0] as ParsedCertificate, now));
  return failures;
}

/**
 * Verifies the device certificate with `openssl verify`, the account and CA certificates being
 * the trust anchors, at security level 2 (112 bits, as GnuTLS's MEDIUM profile). It is an
 * independent cross-check of the hand-written chain checks: OpenSSL also rejects unknown
 * critical extensions and malformed encodings. Returns one message per failure.
 *
 * NOTE: OpenSSL and GnuTLS differ in corner cases (OpenSSL accepts a v1 issuer without
 * basicConstraints), so this complements checkEnrollmentReply and does not replace it.
 */
export function checkChainWithOpenssl(certificateChain: string, now = new Date()): string[] {
  const blocks = splitPemBlocks(certificateChain).filter((block) => block.label === "CERTIFICATE");
  if (blocks.length < 2) {
    return [`certificateChain has ${blocks.length} certificate(s), so openssl verify cannot run`];
  }
  const directory = mkdtempSync(join(tmpdir(), "jami-chain-"));
  try {
    const toPem = (block: PemBlock) => {
      const lines = Buffer.from(block.der).toString("base64").match(/.{1,64}/g) ?? [];
      return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
    };
    const devicePath = join(directory, "device.pem");
    const trustedPath = join(directory, "trusted.pem");
    writeFileSync(devicePath, toPem(blocks[0] as PemBlock));
    writeFileSync(trustedPath, blocks.slice(1).map(toPem).join(""));
    const result = spawnSync(
      "openssl",
      ["verify", "-no-CAfile", "-no-CApath", "-no-CAstore", "-auth_level", "2", "-partial_chain",
        "-attime", String(Math.floor(now.getTime() / 1000)), "-trusted", trustedPath, devicePath],
      { encoding: "utf8" },
    );
    if (result.error !== undefined) {
      return [`openssl could not be run (${result.error.message}); install openssl for this check`];
    }
    if (result.status !== 0) {
      const output = `${result.stdout}${result.stderr}`.replaceAll(directory, "").trim();
      return [`openssl verify rejects the device certificate: ${output}`];
    }
    return [];
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * Checks a 2xx reply of `POST /api/login`: a non-empty `access_token`, `scope` exactly equal to
 * the expected scope, and `expires_in` a JSON integer of at least 1 second.
 */
export function checkTokenReply(json: unknown, scope: TokenScope): string[] {
  if (!isJsonObject(json)) {
    return [`the login reply is ${describeJsonType(json)}, expected a JSON object`];
  }
  const failures: string[] = [];
  const { access_token: accessToken, scope: actualScope, expires_in: expiresIn } = json;
  if (typeof accessToken !== "string" || accessToken === "") {
    failures.push(`access_token is ${describeJsonType(accessToken)}, expected a non-empty string`);
  }
  if (actualScope !== scope) {
    failures.push(`scope is ${describeJsonType(actualScope)}, expected exactly "${scope}"`);
  }
  if (typeof expiresIn !== "number" || !Number.isInteger(expiresIn) || expiresIn < 1) {
    failures.push(`expires_in is ${describeJsonType(expiresIn)}, expected a JSON integer of at least 1`);
  }
  return failures;
}

/**
 * Checks a 2xx reply of `GET /api/auth/devices`: a JSON array whose elements have `deviceId`
 * as 64 lowercase hex characters (the SHA-256 long ID), `alias` a string and `revoked` a JSON
 * boolean.
 */
export function checkDeviceList(json: unknown): string[] {
  if (!Array.isArray(json)) {
    return [`the device list is ${describeJsonType(json)}, expected a JSON array`];
  }
  const failures: string[] = [];
  json.forEach((entry: unknown, index) => {
    if (!isJsonObject(entry)) {
      failures.push(`device list element ${index} is ${describeJsonType(entry)}, expected a JSON object`);
      return;
    }
    if (typeof entry.deviceId !== "string" || !/^[0-9a-f]{64}$/.test(entry.deviceId)) {
      failures.push(`device list element ${index} deviceId is ${describeJsonType(entry.deviceId)}, expected 64 lowercase hex characters`);
    }
    if (typeof entry.alias !== "string") {
      failures.push(`device list element ${index} alias is ${describeJsonType(entry.alias)}, expected a string`);
    }
    if (typeof entry.revoked !== "boolean") {
      failures.push(`device list element ${index} revoked is ${describeJsonType(entry.revoked)}, expected a JSON boolean`);
    }
  });
  return failures;
}
