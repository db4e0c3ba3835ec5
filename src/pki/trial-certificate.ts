/** @module Creates or reuses a self-signed localhost TLS certificate for trying the server without --cert and --key. */

import { randomBytes } from "node:crypto";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { x509 } from "./x509.ts";
import { loadTlsMaterial, TlsFileError, type TlsMaterial } from "./tls-files.ts";

/** Paths and fingerprint of the trial certificate, and whether this call created it. */
export interface TrialCertificate {
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint of the certificate, in the format of `TlsMaterial.leafFingerprintSha256`. */
  fingerprintSha256: string;
  created: boolean;
  /** Reason an existing pair was replaced, for the caller to log. Absent when there was no pair or it was reused. */
  replacedReason?: string;
}

const CERT_FILE_NAME = "trial-tls.crt";
const KEY_FILE_NAME = "trial-tls.key";
const DAY_MS = 24 * 60 * 60 * 1000;
const MIN_REMAINING_DAYS = 7;
const VALIDITY_DAYS = 365;

/**
 * Reuses `dir/trial-tls.crt` and `dir/trial-tls.key` when they load as a matching pair valid for at
 * least 7 more days, and otherwise replaces them with a new self-signed EC P-256 certificate for
 * localhost, 127.0.0.1 and ::1, valid for one year.
 *
 * Creates `dir` with mode 0700 if it is missing. The key file is created with mode 0600 and both
 * files are replaced by rename, so a reader never sees a partly written file. If two processes
 * create the pair at once, the files may end up from different runs. The next call detects the
 * mismatch and creates a new pair.
 */
export async function ensureTrialCertificate(dir: string): Promise<TrialCertificate> {
  const certFile = join(dir, CERT_FILE_NAME);
  const keyFile = join(dir, KEY_FILE_NAME);

  const existing = await checkExistingPair(certFile, keyFile);
  if (existing.fingerprintSha256 !== undefined) {
    return { certFile, keyFile, fingerprintSha256: existing.fingerprintSha256, created: false };
  }

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { certPem, keyPem } = await createSelfSignedCertificate(new Date());
  await writeFileAtomically(keyFile, keyPem, 0o600);
  await writeFileAtomically(certFile, certPem, 0o644);

  // Loading the new files checks them the same way as files an admin passes.
  const material = await loadTlsMaterial({ certFile, keyFile });
  const created: TrialCertificate = { certFile, keyFile, fingerprintSha256: material.leafFingerprintSha256, created: true };
  return existing.replacedReason === undefined ? created : { ...created, replacedReason: existing.replacedReason };
}

interface ExistingPair {
  /** Set when the pair can be reused. */
  fingerprintSha256?: string;
  /** Set when a pair exists but must be replaced. */
  replacedReason?: string;
}

async function checkExistingPair(certFile: string, keyFile: string): Promise<ExistingPair> {
  let material: TlsMaterial;
  try {
    material = await loadTlsMaterial({ certFile, keyFile });
  } catch (error) {
    // A missing, unreadable, corrupt or mismatched file is replaced. If the directory is not
    // writable either, writing the new files reports that.
    if (!(error instanceof TlsFileError)) {
      throw error;
    }
    return isFileNotFound(error) ? {} : { replacedReason: error.message };
  }
  if (material.leafNotAfter.getTime() - Date.now() < MIN_REMAINING_DAYS * DAY_MS) {
    return { replacedReason: `${certFile}: the certificate expires on ${material.leafNotAfter.toISOString()}, in less than ${MIN_REMAINING_DAYS} days` };
  }
  return { fingerprintSha256: material.leafFingerprintSha256 };
}

function isFileNotFound(error: TlsFileError): boolean {
  const cause: unknown = error.cause;
  return typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT";
}

/** Generates an EC P-256 key with WebCrypto and a self-signed certificate for localhost. */
async function createSelfSignedCertificate(now: Date): Promise<{ certPem: string; keyPem: string }> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createSerialNumber(),
    name: "CN=localhost",
    // Back-dated by one hour to tolerate clients whose clocks run slightly behind.
    notBefore: new Date(now.getTime() - 60 * 60 * 1000),
    notAfter: new Date(now.getTime() + VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certPem: certificate.toString("pem") + "\n",
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
  };
}

/** Returns 16 random bytes as hex, with the top bit cleared so the DER INTEGER stays positive and 16 bytes long. */
function createSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString("hex");
}

/**
 * Writes a new file next to `path` with `mode` set at creation, then renames it over `path`.
 * Setting the mode at creation leaves no moment when the content is readable by others, and the
 * rename replaces an old file whose mode was wider.
 */
async function writeFileAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporaryPath = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await open(temporaryPath, "wx", mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporaryPath).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(temporaryPath, path);
}
