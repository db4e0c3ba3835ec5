/** @module Tests for loading TLS files and for the trial certificate, with fixtures made by the openssl command. */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import { loadTlsMaterial, TlsFileError, type TlsMaterial } from "../src/pki/tls-files.ts";
import { ensureTrialCertificate } from "../src/pki/trial-certificate.ts";

const PASSPHRASE = "correct horse battery";
const WRONG_PASSPHRASE = "wrong staple";

let dir: string;

/** Returns the absolute path of a fixture file in the temporary directory. */
function fixture(name: string): string {
  return join(dir, name);
}

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function concatenate(target: string, ...sources: string[]): void {
  writeFileSync(fixture(target), sources.map((source) => readFileSync(fixture(source), "utf8")).join(""));
}

function selfSigned(keyName: string, certName: string, subject: string, days = 365): void {
  openssl("req", "-x509", "-new", "-key", keyName, "-subj", subject, "-days", String(days), "-out", certName);
}

/** Root CA, intermediate CA and a server certificate issued by the intermediate. */
function createChain(): void {
  writeFileSync(fixture("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  writeFileSync(fixture("server.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:jams.test\nextendedKeyUsage=serverAuth\n");
  openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "root.key");
  openssl("req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=Test Root CA", "-days", "400", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.crt");
  openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "intermediate.key");
  openssl("req", "-new", "-key", "intermediate.key", "-subj", "/CN=Test Intermediate CA", "-out", "intermediate.csr");
  openssl("x509", "-req", "-in", "intermediate.csr", "-CA", "root.crt", "-CAkey", "root.key", "-set_serial", "2", "-days", "300", "-extfile", "ca.ext", "-out", "intermediate.crt");
  openssl("req", "-new", "-key", "rsa.p8.key", "-subj", "/CN=jams.test", "-out", "server.csr");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "intermediate.crt", "-CAkey", "intermediate.key", "-set_serial", "3", "-days", "200", "-extfile", "server.ext", "-out", "server.crt");
  concatenate("fullchain.crt", "server.crt", "intermediate.crt");
  concatenate("reversed-chain.crt", "intermediate.crt", "server.crt");
}

function createKeys(): void {
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.p8.key");
  openssl("rsa", "-in", "rsa.p8.key", "-traditional", "-out", "rsa.p1.key");
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other-rsa.key");
  openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.sec1.key");
  openssl("ecparam", "-name", "prime256v1", "-genkey", "-out", "ec-with-params.sec1.key");
  openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "ec384.p8.key");
  openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", `pass:${PASSPHRASE}`, "-in", "ec.sec1.key", "-out", "ec.enc.p8.key");
  openssl("rsa", "-aes256", "-traditional", "-passout", `pass:${PASSPHRASE}`, "-in", "rsa.p8.key", "-out", "rsa.legacy-enc.key");
  openssl("rsa", "-camellia256", "-traditional", "-passout", `pass:${PASSPHRASE}`, "-in", "rsa.p8.key", "-out", "rsa.legacy-camellia.key");
  openssl("pkcs8", "-topk8", "-scrypt", "-passout", `pass:${PASSPHRASE}`, "-in", "rsa.p8.key", "-out", "rsa.scrypt.p8.key");
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa1024.key");
  openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa-pss.key");
  openssl("genpkey", "-algorithm", "ED25519", "-out", "ed25519.key");
  openssl("genpkey", "-algorithm", "ED448", "-out", "ed448.key");
  openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521", "-out", "ec521.key");
  openssl("ecparam", "-name", "secp256k1", "-genkey", "-noout", "-out", "secp256k1.key");
  openssl("pkey", "-in", "rsa.p8.key", "-outform", "DER", "-out", "rsa.der.key");
}

function createCertificates(): void {
  selfSigned("rsa.p8.key", "rsa.crt", "/CN=rsa.test");
  selfSigned("ec.sec1.key", "ec.crt", "/CN=ec.test");
  selfSigned("ec-with-params.sec1.key", "ec-with-params.crt", "/CN=ec-params.test");
  selfSigned("ec384.p8.key", "ec384.crt", "/CN=ec384.test");
  selfSigned("rsa.p8.key", "rsa-10-days.crt", "/CN=soon.test", 10);
  openssl("x509", "-in", "rsa.crt", "-outform", "DER", "-out", "rsa.der.crt");
}

/** Files that are not made by openssl: passphrase files, damaged and mixed PEM files. */
function createHandMadeFiles(): void {
  writeFileSync(fixture("passphrase.txt"), `${PASSPHRASE}\n`);
  writeFileSync(fixture("passphrase-crlf.txt"), `${PASSPHRASE}\r\n`);
  writeFileSync(fixture("wrong-passphrase.txt"), `${WRONG_PASSPHRASE}\n`);
  writeFileSync(fixture("empty-passphrase.txt"), "\n");
  writeFileSync(fixture("empty.pem"), "");
  writeFileSync(fixture("garbage.pem"), "this is not a key\nnor a certificate\n");
  for (const name of ["rsa.crt", "rsa.p8.key"]) {
    writeFileSync(fixture(`crlf-${name}`), readFileSync(fixture(name), "utf8").replaceAll("\n", "\r\n"));
  }
  concatenate("cert-and-key.pem", "rsa.crt", "rsa.p8.key");
  concatenate("two-keys.pem", "rsa.p8.key", "other-rsa.key");
  concatenate("key-and-cert.pem", "rsa.p8.key", "rsa.crt");

  const certLines = readFileSync(fixture("rsa.crt"), "utf8").split("\n");
  // Dropping body lines keeps valid base64 but truncates the DER.
  writeFileSync(fixture("truncated.crt"), [...certLines.slice(0, 4), ...certLines.slice(-2)].join("\n"));
  writeFileSync(fixture("bad-base64.crt"), [certLines[0], "not*base64!", ...certLines.slice(2)].join("\n"));
  writeFileSync(fixture("unterminated.crt"), certLines.slice(0, -2).join("\n"));
  writeFileSync(fixture("csr-in-cert.pem"), readFileSync(fixture("server.csr"), "utf8"));
  mkdirSync(fixture("a-directory"));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "jams-tls-files-"));
  createKeys();
  createCertificates();
  createChain();
  createHandMadeFiles();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface LoadCase {
  name: string;
  cert: string;
  key: string;
  passphrase?: string;
  /** Time to check expiry against, as days from now. */
  nowInDays?: number;
}

interface AcceptCase extends LoadCase {
  keyDetail: string;
  chainLength?: number;
  /** Fragments expected in the only warning. Without this field, no warning is expected. */
  warnings?: string[];
}

interface RejectCase extends LoadCase {
  /** Which fixture the error names: "cert", "key" or "passphrase". */
  blames: "cert" | "key" | "passphrase";
  /** Fragments that must appear in the message. */
  reasons: string[];
}

function load(testCase: LoadCase): Promise<TlsMaterial> {
  const now = testCase.nowInDays === undefined ? undefined : new Date(Date.now() + testCase.nowInDays * 86_400_000);
  return loadTlsMaterial({
    certFile: fixture(testCase.cert),
    keyFile: fixture(testCase.key),
    passphraseFile: testCase.passphrase === undefined ? undefined : fixture(testCase.passphrase),
    now,
  });
}

async function loadError(testCase: LoadCase): Promise<TlsFileError> {
  try {
    await load(testCase);
  } catch (error) {
    if (error instanceof TlsFileError) {
      return error;
    }
    throw error;
  }
  throw new Error(`${testCase.name}: expected a TlsFileError, but the files loaded`);
}

const acceptCases: AcceptCase[] = [
  { name: "PKCS#8 RSA", cert: "rsa.crt", key: "rsa.p8.key", keyDetail: "RSA 2048" },
  { name: "PKCS#1 RSA", cert: "rsa.crt", key: "rsa.p1.key", keyDetail: "RSA 2048" },
  { name: "SEC1 EC", cert: "ec.crt", key: "ec.sec1.key", keyDetail: "EC P-256" },
  { name: "SEC1 EC after EC PARAMETERS", cert: "ec-with-params.crt", key: "ec-with-params.sec1.key", keyDetail: "EC P-256" },
  { name: "PKCS#8 EC P-384", cert: "ec384.crt", key: "ec384.p8.key", keyDetail: "EC P-384" },
  { name: "encrypted PKCS#8", cert: "ec.crt", key: "ec.enc.p8.key", passphrase: "passphrase.txt", keyDetail: "EC P-256" },
  { name: "encrypted PKCS#8, CRLF passphrase", cert: "ec.crt", key: "ec.enc.p8.key", passphrase: "passphrase-crlf.txt", keyDetail: "EC P-256" },
  { name: "legacy encrypted PEM", cert: "rsa.crt", key: "rsa.legacy-enc.key", passphrase: "passphrase.txt", keyDetail: "RSA 2048" },
  { name: "full chain", cert: "fullchain.crt", key: "rsa.p8.key", keyDetail: "RSA 2048", chainLength: 2 },
  { name: "CRLF line endings", cert: "crlf-rsa.crt", key: "crlf-rsa.p8.key", keyDetail: "RSA 2048" },
  { name: "key file with a certificate", cert: "rsa.crt", key: "key-and-cert.pem", keyDetail: "RSA 2048" },
  {
    name: "leaf without intermediates",
    cert: "server.crt",
    key: "rsa.p8.key",
    keyDetail: "RSA 2048",
    warnings: ["contains only the server certificate, without the intermediate CA certificates"],
  },
  { name: "expiring in 10 days", cert: "rsa-10-days.crt", key: "rsa.p8.key", keyDetail: "RSA 2048", warnings: ["the certificate expires on", "in 10 days; renew it soon"] },
  { name: "expired", cert: "rsa.crt", key: "rsa.p8.key", nowInDays: 400, keyDetail: "RSA 2048", warnings: ["the certificate expired on"] },
  { name: "not valid yet", cert: "rsa.crt", key: "rsa.p8.key", nowInDays: -1, keyDetail: "RSA 2048", warnings: ["is not valid before"] },
  {
    name: "passphrase for plain key",
    cert: "rsa.crt",
    key: "rsa.p8.key",
    passphrase: "passphrase.txt",
    keyDetail: "RSA 2048",
    warnings: ["ignored because the key", "is not encrypted"],
  },
];

const SUPPORTED_HINT = "use an RSA key of at least 2048 bits or an EC P-256 or P-384 key";

const rejectCases: RejectCase[] = [
  { name: "wrong passphrase", cert: "ec.crt", key: "ec.enc.p8.key", passphrase: "wrong-passphrase.txt", blames: "key", reasons: ["wrong passphrase in --key-passphrase-file"] },
  { name: "wrong legacy passphrase", cert: "rsa.crt", key: "rsa.legacy-enc.key", passphrase: "wrong-passphrase.txt", blames: "key", reasons: ["wrong passphrase"] },
  { name: "encrypted, no passphrase file", cert: "ec.crt", key: "ec.enc.p8.key", blames: "key", reasons: ["the key is encrypted; pass its passphrase with --key-passphrase-file"] },
  { name: "legacy encrypted, no passphrase file", cert: "rsa.crt", key: "rsa.legacy-enc.key", blames: "key", reasons: ["the key is encrypted"] },
  { name: "empty passphrase file", cert: "ec.crt", key: "ec.enc.p8.key", passphrase: "empty-passphrase.txt", blames: "passphrase", reasons: ["the passphrase file is empty"] },
  { name: "missing passphrase file", cert: "ec.crt", key: "ec.enc.p8.key", passphrase: "no-such-passphrase.txt", blames: "passphrase", reasons: ["file not found"] },
  // Bun 1.4.4 uses BoringSSL, which lacks Camellia and scrypt. Node with OpenSSL 3 accepts both keys.
  {
    name: "legacy Camellia encryption",
    cert: "rsa.crt",
    key: "rsa.legacy-camellia.key",
    passphrase: "passphrase.txt",
    blames: "key",
    reasons: ["legacy OpenSSL-encrypted PEM with CAMELLIA-256-CBC is not supported", "openssl pkcs8 -topk8 -v2 aes-256-cbc"],
  },
  {
    name: "scrypt PKCS#8 encryption",
    cert: "rsa.crt",
    key: "rsa.scrypt.p8.key",
    passphrase: "passphrase.txt",
    blames: "key",
    reasons: ["encryption scheme is not supported", "openssl pkcs8 -topk8 -v2 aes-256-cbc"],
  },
  { name: "key does not match", cert: "rsa.crt", key: "other-rsa.key", blames: "key", reasons: ["does not match the certificate in", "rsa.crt"] },
  { name: "chain in reverse order", cert: "reversed-chain.crt", key: "rsa.p8.key", blames: "key", reasons: ["matches certificate 2 in", "list the server certificate first"] },
  { name: "missing cert file", cert: "no-such.crt", key: "rsa.p8.key", blames: "cert", reasons: ["file not found"] },
  { name: "missing key file", cert: "rsa.crt", key: "no-such.key", blames: "key", reasons: ["file not found"] },
  { name: "cert path is a directory", cert: "a-directory", key: "rsa.p8.key", blames: "cert", reasons: ["is a directory"] },
  { name: "empty cert file", cert: "empty.pem", key: "rsa.p8.key", blames: "cert", reasons: ["the file is empty"] },
  { name: "empty key file", cert: "rsa.crt", key: "empty.pem", blames: "key", reasons: ["the file is empty"] },
  { name: "cert file holds a key", cert: "cert-and-key.pem", key: "rsa.p8.key", blames: "cert", reasons: ["contains a private key"] },
  { name: "cert file holds a CSR", cert: "csr-in-cert.pem", key: "rsa.p8.key", blames: "cert", reasons: ['contains a "CERTIFICATE REQUEST" block'] },
  { name: "cert passed as key", cert: "rsa.crt", key: "rsa.crt", blames: "key", reasons: ["contains a certificate but no private key"] },
  { name: "two keys in key file", cert: "rsa.crt", key: "two-keys.pem", blames: "key", reasons: ["contains 2 private keys"] },
  { name: "RSA 1024", cert: "rsa.crt", key: "rsa1024.key", blames: "key", reasons: ["RSA 1024 keys are too weak", SUPPORTED_HINT] },
  { name: "Ed25519 key", cert: "rsa.crt", key: "ed25519.key", blames: "key", reasons: ["Ed25519 keys are not supported", SUPPORTED_HINT] },
  { name: "Ed448 key", cert: "rsa.crt", key: "ed448.key", blames: "key", reasons: ["Ed448 keys are not supported"] },
  { name: "RSA-PSS key", cert: "rsa.crt", key: "rsa-pss.key", blames: "key", reasons: ["RSA-PSS keys are not supported"] },
  { name: "EC P-521 key", cert: "rsa.crt", key: "ec521.key", blames: "key", reasons: ["EC P-521 keys are not supported"] },
  { name: "secp256k1 key", cert: "rsa.crt", key: "secp256k1.key", blames: "key", reasons: ["EC secp256k1 keys are not supported"] },
  { name: "garbage key file", cert: "rsa.crt", key: "garbage.pem", blames: "key", reasons: ["not a PEM private key"] },
  { name: "garbage cert file", cert: "garbage.pem", key: "rsa.p8.key", blames: "cert", reasons: ["contains no PEM certificate"] },
  { name: "DER key file", cert: "rsa.crt", key: "rsa.der.key", blames: "key", reasons: ["looks like binary DER", "openssl pkey -inform DER"] },
  { name: "DER cert file", cert: "rsa.der.crt", key: "rsa.p8.key", blames: "cert", reasons: ["looks like binary DER", "openssl x509 -inform DER"] },
  { name: "truncated certificate", cert: "truncated.crt", key: "rsa.p8.key", blames: "cert", reasons: ["certificate 1 of 1 (line 1) is not a valid X.509 certificate"] },
  { name: "invalid base64", cert: "bad-base64.crt", key: "rsa.p8.key", blames: "cert", reasons: ['"CERTIFICATE" at line 1 contains invalid base64'] },
  { name: "unterminated PEM block", cert: "unterminated.crt", key: "rsa.p8.key", blames: "cert", reasons: ["has no matching END line"] },
];

const OPTION_BY_BLAME = { cert: "--cert", key: "--key", passphrase: "--key-passphrase-file" } as const;

function blamedFile(testCase: RejectCase): string {
  const names = { cert: testCase.cert, key: testCase.key, passphrase: testCase.passphrase ?? "" };
  return fixture(names[testCase.blames]);
}

describe("loadTlsMaterial accepts", () => {
  test.each(acceptCases)("$name", async (testCase) => {
    const material = await load(testCase);

    expect(material.keyDetail).toBe(testCase.keyDetail);
    expect(material.keyType).toBe(testCase.keyDetail.startsWith("RSA") ? "rsa" : "ec");
    expect(material.chainLength).toBe(testCase.chainLength ?? 1);
    expect(material.keyPem).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    expect(material.certPem).not.toContain("\r");
    expect(material.certPem.match(/-----BEGIN CERTIFICATE-----/g)?.length).toBe(testCase.chainLength ?? 1);
    const expectedWarnings = testCase.warnings ?? [];
    expect(material.warnings.length).toBe(expectedWarnings.length === 0 ? 0 : 1);
    for (const fragment of expectedWarnings) {
      expect(material.warnings[0]).toContain(fragment);
    }
  });
});

describe("loadTlsMaterial rejects", () => {
  test.each(rejectCases)("$name", async (testCase) => {
    const error = await loadError(testCase);

    expect(error.file).toBe(blamedFile(testCase));
    expect(error.option).toBe(OPTION_BY_BLAME[testCase.blames]);
    expect(error.message).toStartWith(`${OPTION_BY_BLAME[testCase.blames]} ${blamedFile(testCase)}: `);
    expect(error.message).not.toContain("\n");
    for (const reason of testCase.reasons) {
      expect(error.message).toContain(reason);
    }
    expect(error.message).not.toContain(PASSPHRASE);
    expect(error.message).not.toContain(WRONG_PASSPHRASE);
  });
});

describe("loadTlsMaterial details", () => {
  test("fingerprint matches openssl", async () => {
    const material = await load({ name: "rsa", cert: "rsa.crt", key: "rsa.p8.key" });
    const output = execFileSync("openssl", ["x509", "-in", fixture("rsa.crt"), "-noout", "-fingerprint", "-sha256"], { encoding: "utf8" });

    expect(`sha256 Fingerprint=${material.leafFingerprintSha256}`).toBe(output.trim());
  });

  test("subject and expiry of leaf", async () => {
    const material = await load({ name: "chain", cert: "fullchain.crt", key: "rsa.p8.key" });
    const endDate = execFileSync("openssl", ["x509", "-in", fixture("server.crt"), "-noout", "-enddate"], { encoding: "utf8" });

    expect(material.leafSubject).toBe("CN=jams.test");
    expect(material.leafNotAfter.getTime()).toBe(new Date(endDate.trim().replace("notAfter=", "")).getTime());
  });

  test("chain PEM equals input without CRLF", async () => {
    const material = await load({ name: "crlf", cert: "crlf-rsa.crt", key: "crlf-rsa.p8.key" });

    expect(material.certPem).toBe(readFileSync(fixture("rsa.crt"), "utf8"));
  });

  test("decrypted key equals plain key", async () => {
    const encrypted = await load({ name: "legacy", cert: "rsa.crt", key: "rsa.legacy-enc.key", passphrase: "passphrase.txt" });
    const plain = await load({ name: "plain", cert: "rsa.crt", key: "rsa.p8.key" });

    expect(encrypted.keyPem).toBe(plain.keyPem);
  });
});

/** Starts a TLS server on 127.0.0.1 and resolves with its port. */
function startTlsServer(material: TlsMaterial): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: material.certPem, key: material.keyPem }, (socket) => {
    socket.end("hello");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 });
    });
  });
}

/** Connects with certificate verification on, and resolves with the data received or rejects with the TLS error. */
function fetchOverTls(port: number, ca: string | undefined, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({ host: "127.0.0.1", port, servername, ca, rejectUnauthorized: true }, () => {
      let received = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (received += chunk));
      socket.on("end", () => resolve(received));
    });
    socket.once("error", reject);
  });
}

describe("ensureTrialCertificate", () => {
  test("creates key with mode 0600", async () => {
    const trialDir = join(dir, "trial-new", "nested");
    const trial = await ensureTrialCertificate(trialDir);

    expect(trial.created).toBe(true);
    expect(trial.replacedReason).toBeUndefined();
    expect(trial.keyFile).toBe(join(trialDir, "trial-tls.key"));
    expect(trial.certFile).toBe(join(trialDir, "trial-tls.crt"));
    expect(statSync(trial.keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(trialDir).mode & 0o777).toBe(0o700);
    expect(trial.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(readFileSync(trial.certFile, "utf8")).toStartWith("-----BEGIN CERTIFICATE-----\n");
    expect(readFileSync(trial.keyFile, "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----\n");
  });

  test("reuses valid certificate", async () => {
    const trialDir = join(dir, "trial-reuse");
    const first = await ensureTrialCertificate(trialDir);
    const second = await ensureTrialCertificate(trialDir);

    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.replacedReason).toBeUndefined();
    expect(second.fingerprintSha256).toBe(first.fingerprintSha256);
  });

  test("replaces certificate expiring in 3 days", async () => {
    const trialDir = join(dir, "trial-expiring");
    mkdirSync(trialDir);
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(trialDir, "trial-tls.key"));
    openssl("req", "-x509", "-new", "-key", join(trialDir, "trial-tls.key"), "-subj", "/CN=localhost", "-days", "3", "-out", join(trialDir, "trial-tls.crt"));
    chmodSync(join(trialDir, "trial-tls.key"), 0o644);
    const old = await loadTlsMaterial({ certFile: join(trialDir, "trial-tls.crt"), keyFile: join(trialDir, "trial-tls.key") });

    const trial = await ensureTrialCertificate(trialDir);

    expect(trial.created).toBe(true);
    expect(trial.replacedReason).toContain("in less than 7 days");
    expect(trial.fingerprintSha256).not.toBe(old.leafFingerprintSha256);
    expect(statSync(trial.keyFile).mode & 0o777).toBe(0o600);
  });

  test("replaces mismatched pair", async () => {
    const trialDir = join(dir, "trial-mismatch");
    const first = await ensureTrialCertificate(trialDir);
    writeFileSync(first.keyFile, readFileSync(fixture("ec.sec1.key")));

    const second = await ensureTrialCertificate(trialDir);

    expect(second.created).toBe(true);
    expect(second.replacedReason).toContain("does not match the certificate");
    expect(second.fingerprintSha256).not.toBe(first.fingerprintSha256);
  });

  test("serves TLS to a trusting client", async () => {
    const trial = await ensureTrialCertificate(join(dir, "trial-tls"));
    const material = await loadTlsMaterial({ certFile: trial.certFile, keyFile: trial.keyFile });
    const { server, port } = await startTlsServer(material);
    try {
      expect(await fetchOverTls(port, material.certPem, "localhost")).toBe("hello");
      const untrusted = await fetchOverTls(port, undefined, "localhost").catch((error: NodeJS.ErrnoException) => error.code);
      // BoringSSL in Bun and OpenSSL in Node report an untrusted self-signed certificate with different codes.
      expect(["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "DEPTH_ZERO_SELF_SIGNED_CERT"]).toContain(untrusted as string);
      await expect(fetchOverTls(port, material.certPem, "jams.example.org")).rejects.toThrow("does not match certificate's altnames");
    } finally {
      server.close();
    }
  });
});
