/** @module Loads and checks the TLS certificate chain and private key files passed with --cert and --key. */

import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, createPublicKey, type KeyObject, type PrivateKeyInput } from "node:crypto";
import { open } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import { x509 } from "./x509.ts";

/** Paths given on the command line, and the time to check certificate validity against. */
export interface TlsFileOptions {
  /** PEM file with the server certificate first, followed by its intermediate CA certificates. */
  certFile: string;
  /** PEM private key file: PKCS#8, PKCS#1 RSA, SEC1 EC, encrypted PKCS#8 or legacy OpenSSL-encrypted PEM. */
  keyFile: string;
  /** File whose content is the key's passphrase. One trailing newline is removed. */
  passphraseFile?: string;
  /** Time used for the expiry warnings. Defaults to the current time. */
  now?: Date;
}

/** Certificate chain and key ready for `tls.createServer`, with details to log at start-up. */
export interface TlsMaterial {
  /** The whole chain as PEM, server certificate first, with LF line endings and 64-character lines. */
  certPem: string;
  /** The private key as unencrypted PKCS#8 PEM. It exists only in memory and must never be written out or logged. */
  keyPem: string;
  keyType: "rsa" | "ec";
  /** Algorithm and size, such as "RSA 2048" or "EC P-256". */
  keyDetail: string;
  /** Subject of the server certificate as an RFC 4514 string, such as "CN=jams.example.org". */
  leafSubject: string;
  leafNotAfter: Date;
  /** SHA-256 fingerprint of the server certificate in upper-case hex pairs separated by colons, as openssl prints it. */
  leafFingerprintSha256: string;
  chainLength: number;
  /** Problems that do not stop the server, each one line that names the file. */
  warnings: string[];
}

/** Command-line option that named a file, used as the prefix of every message. */
export type TlsFileOption = "--cert" | "--key" | "--key-passphrase-file";

/** Failure to use one of the TLS files. The message is one line: option, path, what is wrong and what to do. */
export class TlsFileError extends Error {
  override readonly name = "TlsFileError";

  constructor(
    readonly option: TlsFileOption,
    readonly file: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${option} ${file}: ${reason}`, options);
  }
}

interface FileSource {
  option: TlsFileOption;
  file: string;
}

function fail(source: FileSource, reason: string, cause?: unknown): TlsFileError {
  return new TlsFileError(source.option, source.file, reason, cause === undefined ? undefined : { cause });
}

/**
 * Reads the TLS files, decrypts the key if needed, and checks that the key is a supported type
 * and belongs to the first certificate.
 *
 * Throws TlsFileError on the first problem found. Expiry and a missing intermediate certificate
 * only add warnings.
 */
export async function loadTlsMaterial(options: TlsFileOptions): Promise<TlsMaterial> {
  const certSource: FileSource = { option: "--cert", file: options.certFile };
  const keySource: FileSource = { option: "--key", file: options.keyFile };
  const warnings: string[] = [];

  const chain = parseCertificateChain(await readPemFile(certSource), certSource);
  const keyBlocks = selectKeyBlocks(await readPemFile(keySource), keySource);
  const privateKey = await decryptAndDecodeKey(keyBlocks, options.passphraseFile, keySource, warnings);
  const { keyType, keyDetail } = checkKeyAlgorithm(describeKeyObject(privateKey), keySource);
  checkKeyMatchesLeaf(privateKey, chain, keySource, certSource);

  const certPem = chain.map((certificate) => encodePem("CERTIFICATE", certificate.der)).join("");
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  checkTlsLibraryAccepts(certPem, keyPem, certSource, keySource);

  const leaf = chain[0]!.parsed;
  warnings.push(...describeValidityProblems(leaf, options.now ?? new Date(), certSource));
  warnings.push(...describeChainProblems(chain, certSource));

  return {
    certPem,
    keyPem,
    keyType,
    keyDetail,
    leafSubject: leaf.subject,
    leafNotAfter: leaf.notAfter,
    leafFingerprintSha256: formatSha256Fingerprint(chain[0]!.der),
    chainLength: chain.length,
    warnings,
  };
}

/** Computes the SHA-256 fingerprint of DER bytes as colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256` prints it. */
export function formatSha256Fingerprint(der: Uint8Array): string {
  const hex = createHash("sha256").update(der).digest("hex").toUpperCase();
  return hex.match(/../g)!.join(":");
}

// ---------------------------------------------------------------------------
// Reading files

/** Large enough for any certificate chain or key. A larger file is almost certainly the wrong file. */
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Reads at most MAX_FILE_BYTES from a file, in a loop so that a FIFO works and a device such as
 * /dev/zero fails with a clear message instead of filling memory.
 */
async function readLimitedFile(source: FileSource): Promise<Buffer> {
  const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
  let total = 0;
  try {
    const handle = await open(source.file, "r");
    try {
      let bytesRead = -1;
      while (bytesRead !== 0 && total < buffer.length) {
        ({ bytesRead } = await handle.read(buffer, total, buffer.length - total, null));
        total += bytesRead;
      }
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw describeReadFailure(error, source);
  }
  if (total > MAX_FILE_BYTES) {
    throw fail(source, `the file is larger than ${MAX_FILE_BYTES} bytes; pass the PEM file itself`);
  }
  return buffer.subarray(0, total);
}

function describeReadFailure(error: unknown, source: FileSource): TlsFileError {
  const code = errorCode(error);
  switch (code) {
    case "ENOENT":
      return fail(source, "file not found", error);
    case "EACCES":
    case "EPERM":
      return fail(source, "permission denied; make the file readable by the user that runs the server", error);
    case "EISDIR":
      return fail(source, "is a directory; pass the path of a file", error);
    default:
      return fail(source, `the file could not be read (${code})`, error);
  }
}

function errorCode(error: unknown): string {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------
// PEM parsing (RFC 7468, plus the RFC 1421 headers of legacy encrypted keys)

interface PemBlock {
  label: string;
  /** Header lines such as "Proc-Type", present only in legacy OpenSSL-encrypted keys. */
  headers: Map<string, string>;
  der: Buffer;
  /** 1-based line number of the BEGIN line, for messages. */
  line: number;
}

const BEGIN_LINE = /^-----BEGIN ([A-Z0-9 ]+)-----$/;
const END_LINE = /^-----END ([A-Z0-9 ]+)-----$/;
const BASE64_BODY = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Reads a file that must contain PEM blocks. Text outside the blocks is ignored, as RFC 7468 allows. */
async function readPemFile(source: FileSource): Promise<PemBlock[]> {
  const bytes = await readLimitedFile(source);
  if (bytes.length === 0) {
    throw fail(source, "the file is empty");
  }
  const blocks = parsePemBlocks(bytes.toString("utf8"), source);
  if (blocks.length === 0 && bytes[0] === 0x30) {
    const command = source.option === "--cert" ? "openssl x509" : "openssl pkey";
    throw fail(source, `the file looks like binary DER, not PEM; convert it with ${command} -inform DER -in ${source.file} -out FILE.pem`);
  }
  return blocks;
}

/** Splits text into PEM blocks. CRLF line endings, a byte order mark and indented lines are accepted. */
function parsePemBlocks(text: string, source: FileSource): PemBlock[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).map((line) => line.trim());
  const blocks: PemBlock[] = [];
  let index = 0;
  while (index < lines.length) {
    const begin = BEGIN_LINE.exec(lines[index]!);
    if (begin === null) {
      index++;
      continue;
    }
    const endIndex = findEndLine(lines, index, begin[1]!, source);
    blocks.push(decodePemBody(begin[1]!, lines.slice(index + 1, endIndex), index + 1, source));
    index = endIndex + 1;
  }
  return blocks;
}

function findEndLine(lines: string[], beginIndex: number, label: string, source: FileSource): number {
  for (let index = beginIndex + 1; index < lines.length; index++) {
    const line = lines[index]!;
    if (END_LINE.exec(line)?.[1] === label) {
      return index;
    }
    if (BEGIN_LINE.test(line) || END_LINE.test(line)) {
      break;
    }
  }
  throw fail(source, `the PEM block "${label}" at line ${beginIndex + 1} has no matching END line; the file is truncated or corrupt`);
}

function decodePemBody(label: string, bodyLines: string[], line: number, source: FileSource): PemBlock {
  const headers = new Map<string, string>();
  let bodyStart = 0;
  // RFC 1421 headers ("Name: value") come first and end at an empty line.
  if (bodyLines[0]?.includes(":")) {
    while (bodyStart < bodyLines.length && bodyLines[bodyStart] !== "") {
      const header = bodyLines[bodyStart]!;
      const colon = header.indexOf(":");
      headers.set(header.slice(0, colon).trim(), header.slice(colon + 1).trim());
      bodyStart++;
    }
  }
  const base64 = bodyLines.slice(bodyStart).join("");
  if (base64 === "" || !BASE64_BODY.test(base64)) {
    throw fail(source, `the PEM block "${label}" at line ${line} contains invalid base64; the file is corrupt`);
  }
  return { label, headers, der: Buffer.from(base64, "base64"), line };
}

function encodePem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------
// Certificate chain

interface ChainCertificate {
  der: Buffer;
  parsed: x509.X509Certificate;
}

/** Accepts only CERTIFICATE blocks. A private key here is an error because certificate files are often world-readable. */
function parseCertificateChain(blocks: PemBlock[], source: FileSource): ChainCertificate[] {
  for (const block of blocks) {
    if (block.label.endsWith("PRIVATE KEY")) {
      throw fail(source, "contains a private key; move the key to its own file, pass that file with --key and keep only certificates here");
    }
    if (block.label !== "CERTIFICATE") {
      throw fail(source, `contains a "${block.label}" block at line ${block.line}; only CERTIFICATE blocks are allowed`);
    }
  }
  if (blocks.length === 0) {
    throw fail(source, "contains no PEM certificate; expected one or more -----BEGIN CERTIFICATE----- blocks");
  }
  return blocks.map((block, index) => parseCertificate(block, index, blocks.length, source));
}

function parseCertificate(block: PemBlock, index: number, count: number, source: FileSource): ChainCertificate {
  try {
    return { der: block.der, parsed: new x509.X509Certificate(new Uint8Array(block.der)) };
  } catch (error) {
    throw fail(source, `certificate ${index + 1} of ${count} (line ${block.line}) is not a valid X.509 certificate; the file is corrupt`, error);
  }
}

/** Warns about an expired or soon-expiring server certificate, and one that is not valid yet. */
function describeValidityProblems(leaf: x509.X509Certificate, now: Date, source: FileSource): string[] {
  const prefix = `${source.option} ${source.file}:`;
  const notAfter = leaf.notAfter.toISOString();
  const daysLeft = Math.ceil((leaf.notAfter.getTime() - now.getTime()) / DAY_MS);
  if (leaf.notAfter <= now) {
    return [`${prefix} the certificate expired on ${notAfter}; clients will reject it until it is renewed`];
  }
  if (leaf.notBefore > now) {
    return [`${prefix} the certificate is not valid before ${leaf.notBefore.toISOString()}; check the system clock`];
  }
  if (daysLeft <= EXPIRY_WARNING_DAYS) {
    const days = daysLeft === 1 ? "1 day" : `${daysLeft} days`;
    return [`${prefix} the certificate expires on ${notAfter}, in ${days}; renew it soon`];
  }
  return [];
}

const DAY_MS = 24 * 60 * 60 * 1000;
const EXPIRY_WARNING_DAYS = 30;

/**
 * Warns when the chain lacks intermediates or is out of order. Native TLS clients, such as Jami on
 * Android, do not fetch missing intermediates the way browsers do, so they fail to connect.
 * Issuers are matched by name only, without checking signatures.
 */
function describeChainProblems(chain: ChainCertificate[], source: FileSource): string[] {
  const prefix = `${source.option} ${source.file}:`;
  const leaf = chain[0]!.parsed;
  if (chain.length === 1 && leaf.subject !== leaf.issuer) {
    return [
      `${prefix} contains only the server certificate, without the intermediate CA certificates that issued it; ` +
        "clients that do not cache intermediates (such as Jami on Android) will fail, so pass the full chain file (fullchain.pem from certbot)",
    ];
  }
  const warnings: string[] = [];
  for (let index = 0; index + 1 < chain.length; index++) {
    if (chain[index]!.parsed.issuer !== chain[index + 1]!.parsed.subject) {
      warnings.push(
        `${prefix} certificate ${index + 2} is not the issuer of certificate ${index + 1}; ` +
          "list the server certificate first, then each issuer in order",
      );
    }
  }
  return warnings;
}

// ---------------------------------------------------------------------------
// Private key selection and decryption

const KEY_LABELS = new Set(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]);
const SUPPORTED_KEYS_HINT = "use an RSA key of at least 2048 bits or an EC P-256 or P-384 key";

interface KeyBlocks {
  key: PemBlock;
  /** The EC PARAMETERS block that `openssl ecparam -genkey` writes before the key, if present. */
  ecParameters?: PemBlock;
}

/** Finds the one private key block. CERTIFICATE blocks next to the key are ignored. */
function selectKeyBlocks(blocks: PemBlock[], source: FileSource): KeyBlocks {
  const keys = blocks.filter((block) => KEY_LABELS.has(block.label));
  if (keys.length > 1) {
    throw fail(source, `contains ${keys.length} private keys; keep only the key that belongs to the certificate`);
  }
  if (keys.length === 0) {
    throw describeMissingKey(blocks, source);
  }
  const ecParameters = blocks.find((block) => block.label === "EC PARAMETERS");
  return ecParameters === undefined ? { key: keys[0]! } : { key: keys[0]!, ecParameters };
}

function describeMissingKey(blocks: PemBlock[], source: FileSource): TlsFileError {
  const labels = blocks.map((block) => block.label);
  if (labels.includes("OPENSSH PRIVATE KEY")) {
    return fail(source, `OpenSSH private keys are not supported; convert a copy with ssh-keygen -p -m PKCS8 -f COPY`);
  }
  if (labels.includes("DSA PRIVATE KEY")) {
    return fail(source, `DSA keys are not supported; ${SUPPORTED_KEYS_HINT}`);
  }
  if (labels.includes("CERTIFICATE")) {
    return fail(source, "contains a certificate but no private key; pass the private key file with --key and the certificate with --cert");
  }
  if (labels.length > 0) {
    return fail(source, `not a PEM private key (found "${labels[0]}"); expected a PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY or ENCRYPTED PRIVATE KEY block`);
  }
  return fail(source, "not a PEM private key; expected a -----BEGIN PRIVATE KEY----- block or one of its RSA, EC or ENCRYPTED forms");
}

function isLegacyEncrypted(block: PemBlock): boolean {
  return block.headers.get("Proc-Type")?.toUpperCase() === "4,ENCRYPTED";
}

function isEncrypted(block: PemBlock): boolean {
  return block.label === "ENCRYPTED PRIVATE KEY" || isLegacyEncrypted(block);
}

async function decryptAndDecodeKey(
  blocks: KeyBlocks,
  passphraseFile: string | undefined,
  keySource: FileSource,
  warnings: string[],
): Promise<KeyObject> {
  if (!isEncrypted(blocks.key)) {
    if (passphraseFile !== undefined) {
      warnings.push(`--key-passphrase-file ${passphraseFile}: ignored because the key in ${keySource.file} is not encrypted`);
    }
    return decodeKey(blocks, undefined, keySource);
  }
  if (passphraseFile === undefined) {
    throw fail(keySource, "the key is encrypted; pass its passphrase with --key-passphrase-file");
  }
  const passphrase = await readPassphrase({ option: "--key-passphrase-file", file: passphraseFile });
  try {
    return decodeKey(blocks, { passphrase, file: passphraseFile }, keySource);
  } finally {
    // Best effort only: the runtime may hold other copies of the passphrase.
    passphrase.fill(0);
  }
}

/** Reads the passphrase as bytes, so that any encoding works, and removes one trailing LF or CRLF. */
async function readPassphrase(source: FileSource): Promise<Buffer> {
  const bytes = await readLimitedFile(source);
  let length = bytes.length;
  if (bytes[length - 1] === 0x0a) {
    length -= bytes[length - 2] === 0x0d ? 2 : 1;
  }
  if (length === 0) {
    throw fail(source, "the passphrase file is empty; write the key's passphrase into it");
  }
  return bytes.subarray(0, length);
}

interface Passphrase {
  passphrase: Buffer;
  file: string;
}

function decodeKey(blocks: KeyBlocks, passphrase: Passphrase | undefined, source: FileSource): KeyObject {
  try {
    return createPrivateKey(buildKeyInput(blocks.key, passphrase?.passphrase));
  } catch (error) {
    if (passphrase !== undefined) {
      throw describeDecryptFailure(blocks.key, error, passphrase.file, source);
    }
    throw describeDecodeFailure(blocks, error, source);
  }
}

/** Passes DER with an explicit type where possible, because PEM parsing differs between runtimes. */
function buildKeyInput(block: PemBlock, passphrase: Buffer | undefined): PrivateKeyInput {
  if (isLegacyEncrypted(block)) {
    // The DEK-Info header carries the cipher and IV, so only the PEM form can be decrypted.
    const headers = [...block.headers].map(([name, value]) => `${name}: ${value}\n`).join("");
    const pem = encodePem(block.label, block.der).replace("-----\n", `-----\n${headers}\n`);
    return { key: pem, format: "pem", passphrase };
  }
  switch (block.label) {
    case "RSA PRIVATE KEY":
      return { key: block.der, format: "der", type: "pkcs1" };
    case "EC PRIVATE KEY":
      return { key: block.der, format: "der", type: "sec1" };
    default:
      return { key: block.der, format: "der", type: "pkcs8", passphrase };
  }
}

/** OpenSSL and BoringSSL reason codes for an encryption scheme they cannot decrypt. */
const UNSUPPORTED_ENCRYPTION_CODES = /UNSUPPORTED_(ENCRYPTION|CIPHER|PRF|KEY_DERIVATION_FUNCTION)$/;

/**
 * Explains why an encrypted key could not be loaded. A wrong passphrase shows up as BAD_DECRYPT,
 * because the CBC padding check fails. By estimate about 1 wrong passphrase in 256 still yields valid
 * padding, so a decode error after decryption is reported as "wrong passphrase or corrupt file".
 */
function describeDecryptFailure(block: PemBlock, error: unknown, passphraseFile: string, source: FileSource): TlsFileError {
  const code = errorCode(error);
  const convert = `openssl pkcs8 -topk8 -v2 aes-256-cbc -in ${source.file} -out NEW.pem`;
  if (code.endsWith("BAD_DECRYPT") || /bad decrypt/i.test(code)) {
    return fail(source, `wrong passphrase in --key-passphrase-file ${passphraseFile}`, error);
  }
  if (UNSUPPORTED_ENCRYPTION_CODES.test(code) && isLegacyEncrypted(block)) {
    const cipher = block.headers.get("DEK-Info")?.split(",")[0] ?? "an unknown cipher";
    return fail(source, `legacy OpenSSL-encrypted PEM with ${cipher} is not supported; convert the key with ${convert}`, error);
  }
  if (UNSUPPORTED_ENCRYPTION_CODES.test(code)) {
    return fail(source, `the key's PKCS#8 encryption scheme is not supported (${code}); re-encrypt the key with ${convert}`, error);
  }
  if (code.endsWith("UNSUPPORTED_ALGORITHM")) {
    return fail(source, `the decrypted key uses an unsupported algorithm (${code}); ${SUPPORTED_KEYS_HINT}`, error);
  }
  if (isLegacyEncrypted(block)) {
    // NOTE: not run under Deno. If its node:crypto cannot read legacy encrypted PEM, this message applies.
    return fail(source, `the legacy OpenSSL-encrypted key could not be decrypted (${code}); check the passphrase, or convert the key with ${convert}`, error);
  }
  return fail(source, `the key could not be decoded after decryption (${code}); the passphrase is wrong or the file is corrupt`, error);
}

/** Names the algorithm when the runtime cannot decode a key of that type, and reports corruption otherwise. */
function describeDecodeFailure(blocks: KeyBlocks, error: unknown, source: FileSource): TlsFileError {
  const algorithm = identifyKeyAlgorithm(blocks);
  if (algorithm !== undefined) {
    checkKeyAlgorithm(algorithm, source);
  }
  return fail(source, `the key could not be decoded (${errorCode(error)}); the file is corrupt`, error);
}

// ---------------------------------------------------------------------------
// Key algorithm checks

interface KeyAlgorithm {
  /** "RSA", "EC", "Ed25519" and so on, or "algorithm OID 1.2.3" when unknown. */
  name: string;
  /** Curve of an EC key, such as "P-256", if known. */
  curve?: string;
  /** Modulus length of an RSA key, if known. */
  bits?: number;
}

const KEY_TYPE_NAMES: Record<string, string> = {
  rsa: "RSA",
  "rsa-pss": "RSA-PSS",
  ec: "EC",
  dsa: "DSA",
  dh: "DH",
  ed25519: "Ed25519",
  ed448: "Ed448",
  x25519: "X25519",
  x448: "X448",
};

/** Node and OpenSSL curve names mapped to the NIST names used in messages. Others are shown as given. */
const CURVE_NAMES: Record<string, string> = {
  prime256v1: "P-256",
  secp256r1: "P-256",
  "P-256": "P-256",
  secp384r1: "P-384",
  "P-384": "P-384",
  secp521r1: "P-521",
  "P-521": "P-521",
};

function describeKeyObject(key: KeyObject): KeyAlgorithm {
  const type = key.asymmetricKeyType ?? "unknown";
  const details = key.asymmetricKeyDetails ?? {};
  const curve = details.namedCurve === undefined ? undefined : (CURVE_NAMES[details.namedCurve] ?? details.namedCurve);
  return { name: KEY_TYPE_NAMES[type] ?? type, curve, bits: details.modulusLength };
}

/** Accepts RSA of 2048 bits or more and EC P-256 or P-384, and throws a TlsFileError naming any other algorithm. */
function checkKeyAlgorithm(algorithm: KeyAlgorithm, source: FileSource): Pick<TlsMaterial, "keyType" | "keyDetail"> {
  if (algorithm.name === "RSA" && algorithm.bits !== undefined) {
    if (algorithm.bits < 2048) {
      throw fail(source, `RSA ${algorithm.bits} keys are too weak; ${SUPPORTED_KEYS_HINT}`);
    }
    return { keyType: "rsa", keyDetail: `RSA ${algorithm.bits}` };
  }
  if (algorithm.name === "EC") {
    if (algorithm.curve === "P-256" || algorithm.curve === "P-384") {
      return { keyType: "ec", keyDetail: `EC ${algorithm.curve}` };
    }
    throw fail(source, `EC ${algorithm.curve ?? "keys with explicit curve parameters"} keys are not supported; ${SUPPORTED_KEYS_HINT}`);
  }
  throw fail(source, `${algorithm.name} keys are not supported; ${SUPPORTED_KEYS_HINT}`);
}

const ALGORITHM_OIDS: Record<string, string> = {
  "1.2.840.113549.1.1.1": "RSA",
  "1.2.840.113549.1.1.10": "RSA-PSS",
  "1.2.840.10045.2.1": "EC",
  "1.2.840.10040.4.1": "DSA",
  "1.2.840.113549.1.3.1": "DH",
  "1.3.101.110": "X25519",
  "1.3.101.111": "X448",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
};

const CURVE_OIDS: Record<string, string> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
  "1.2.840.10045.3.1.1": "P-192",
  "1.3.132.0.33": "P-224",
  "1.3.132.0.10": "secp256k1",
  "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
  "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
  "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
};

/**
 * Reads the algorithm and curve identifiers from an unencrypted key's DER, for keys the runtime
 * cannot decode (Bun 1.4.4 rejects Ed448, RSA-PSS and secp256k1 keys without naming them).
 * Returns undefined when the structure is not recognised. RSA sizes are not read here.
 */
function identifyKeyAlgorithm(blocks: KeyBlocks): KeyAlgorithm | undefined {
  const der = blocks.key.der;
  const root = readDerElement(der, 0);
  if (root === undefined) {
    return undefined;
  }
  const fields = readDerChildren(der, root);
  if (blocks.key.label === "EC PRIVATE KEY") {
    // SEC1 ECPrivateKey: the curve is in the [0] field, or else in the EC PARAMETERS block.
    const parameters = fields.find((field) => field.tag === 0xa0);
    const curveOid = parameters === undefined ? undefined : decodeOid(der, readDerChildren(der, parameters)[0]);
    const fallbackOid = blocks.ecParameters === undefined ? undefined : decodeOid(blocks.ecParameters.der, readDerElement(blocks.ecParameters.der, 0));
    return { name: "EC", curve: curveName(curveOid ?? fallbackOid) };
  }
  if (blocks.key.label !== "PRIVATE KEY" || fields[1] === undefined) {
    return undefined;
  }
  // PKCS#8 PrivateKeyInfo: version, then AlgorithmIdentifier { algorithm OID, parameters }.
  const [algorithmOid, parameters] = readDerChildren(der, fields[1]);
  const oid = decodeOid(der, algorithmOid);
  if (oid === undefined) {
    return undefined;
  }
  const name = ALGORITHM_OIDS[oid] ?? `algorithm OID ${oid}`;
  return name === "EC" ? { name, curve: curveName(decodeOid(der, parameters)) } : { name };
}

function curveName(oid: string | undefined): string | undefined {
  return oid === undefined ? undefined : (CURVE_OIDS[oid] ?? `curve OID ${oid}`);
}

// ---------------------------------------------------------------------------
// Minimal DER reader, enough to find the OIDs in a private key

interface DerElement {
  tag: number;
  contentStart: number;
  contentEnd: number;
}

/** Reads one definite-length DER element. Returns undefined when it is truncated or malformed. */
function readDerElement(der: Uint8Array, offset: number): DerElement | undefined {
  const tag = der[offset];
  const firstLengthByte = der[offset + 1];
  if (tag === undefined || firstLengthByte === undefined) {
    return undefined;
  }
  let cursor = offset + 2;
  let length = firstLengthByte;
  if (firstLengthByte & 0x80) {
    const lengthBytes = firstLengthByte & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4 || cursor + lengthBytes > der.length) {
      return undefined;
    }
    length = 0;
    for (const byte of der.subarray(cursor, cursor + lengthBytes)) {
      length = length * 256 + byte;
    }
    cursor += lengthBytes;
  }
  const contentEnd = cursor + length;
  return contentEnd > der.length ? undefined : { tag, contentStart: cursor, contentEnd };
}

function readDerChildren(der: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  let offset = parent.contentStart;
  while (offset < parent.contentEnd) {
    const child = readDerElement(der, offset);
    if (child === undefined || child.contentEnd > parent.contentEnd) {
      break;
    }
    children.push(child);
    offset = child.contentEnd;
  }
  return children;
}

/** Decodes an OBJECT IDENTIFIER element to dotted form. Returns undefined for any other element. */
function decodeOid(der: Uint8Array, element: DerElement | undefined): string | undefined {
  if (element === undefined || element.tag !== 0x06 || element.contentEnd === element.contentStart) {
    return undefined;
  }
  const arcs: number[] = [];
  let value = 0;
  for (const byte of der.subarray(element.contentStart, element.contentEnd)) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

// ---------------------------------------------------------------------------
// Key and certificate pairing

/** Compares SubjectPublicKeyInfo DER of the key with each certificate, so a misordered chain gets its own message. */
function checkKeyMatchesLeaf(privateKey: KeyObject, chain: ChainCertificate[], keySource: FileSource, certSource: FileSource): void {
  const keySpki = exportSpki(createPublicKey(privateKey));
  const matchIndex = chain.findIndex((certificate) => keySpki.equals(certificateSpki(certificate)));
  if (matchIndex === 0) {
    return;
  }
  if (matchIndex > 0) {
    throw fail(
      keySource,
      `matches certificate ${matchIndex + 1} in ${certSource.file}, not the first one; list the server certificate first in that file`,
    );
  }
  throw fail(keySource, `does not match the certificate in ${certSource.file}; pass the key that belongs to that certificate`);
}

function exportSpki(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: "spki", format: "der" });
}

/** Re-encodes the certificate's key through node:crypto, so that encoding choices such as point compression do not matter. */
function certificateSpki(certificate: ChainCertificate): Buffer {
  const raw = Buffer.from(certificate.parsed.publicKey.rawData);
  try {
    return exportSpki(createPublicKey({ key: raw, format: "der", type: "spki" }));
  } catch {
    // The runtime cannot read this key type, so it cannot equal a key that it did read.
    return raw;
  }
}

/** Builds a TLS context once, so that anything the TLS library rejects fails here with the file names. */
function checkTlsLibraryAccepts(certPem: string, keyPem: string, certSource: FileSource, keySource: FileSource): void {
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (error) {
    throw fail(certSource, `the TLS library rejected this certificate chain with the key in ${keySource.file} (${errorCode(error)})`, error);
  }
}
