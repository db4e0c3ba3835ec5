/**
 * @module Device login by TLS client certificate, the way Jami clients get a DEVICE token.
 *
 * A 401 here makes the client delete its identity, so it is reserved for a certificate this
 * server issued whose device is revoked or no longer known. A missing certificate (often a
 * proxy that dropped it), a foreign or self-signed one, or an expired one gets a 400 or 403.
 */
import { and, eq } from "drizzle-orm";
import { badRequest, forbidden, unauthorized } from "../api/errors.ts";
import { logger } from "../log/logger.ts";
import { uidOid } from "../pki/certificates.ts";
import { canonicalSpki, longId } from "../pki/ids.ts";
import { bytes } from "../pki/keys.ts";
import { x509 } from "../pki/x509.ts";
import type { Store } from "../store/database.ts";
import { accounts, devices, users, type DeviceRow, type UserRow } from "../store/schema.ts";
import { accountFromRow } from "./accounts.ts";

const log = logger("device-login");

/** Checks the presented chain and returns the device and its user. */
export async function authenticateDevice(
  store: Store,
  peerCertificates: Uint8Array[] | undefined,
  now = new Date(),
): Promise<{ user: UserRow; device: DeviceRow }> {
  const leaf = parseLeaf(peerCertificates);
  const deviceId = longId(canonicalSpki(new Uint8Array(leaf.publicKey.rawData)));
  const device = (await store.db.select().from(devices).where(eq(devices.deviceId, deviceId)).limit(1))[0];
  if (!device) return rejectUnknown(store, leaf, deviceId);

  const accountRow = (await store.db.select().from(accounts).where(eq(accounts.userId, device.userId)).limit(1))[0];
  if (!accountRow || !(await signedBy(leaf, accountFromRow(accountRow).certificate))) {
    log.warn({ deviceId }, "device login with a certificate not issued by the device's account");
    throw forbidden("foreign_certificate");
  }
  if (device.revokedAt !== null) {
    log.warn({ deviceId }, "revoked device tried to log in");
    throw unauthorized("device_revoked");
  }
  if (leaf.notAfter <= now || leaf.notBefore > now) {
    throw forbidden("certificate_expired", `the device certificate is valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}; enroll again`);
  }
  const user = (await store.db.select().from(users).where(eq(users.id, device.userId)).limit(1))[0]!;
  if (user.disabled) throw forbidden("user_disabled");
  return { user, device };
}

function parseLeaf(peerCertificates: Uint8Array[] | undefined): x509.X509Certificate {
  const der = peerCertificates?.[0];
  if (!der) {
    log.warn("device login without a TLS client certificate; if a proxy terminates TLS, it must pass the certificate on");
    throw badRequest("client_certificate_required", "no TLS client certificate was presented; device login needs the device certificate");
  }
  try {
    return new x509.X509Certificate(bytes(der));
  } catch {
    throw badRequest("client_certificate_required", "the TLS client certificate cannot be parsed");
  }
}

async function signedBy(certificate: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  try {
    return await certificate.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/** Rejects an unknown device key: 401 if one of our accounts signed it (the device was removed), else 403. */
async function rejectUnknown(store: Store, leaf: x509.X509Certificate, deviceId: string): Promise<never> {
  const accountId = leaf.issuerName.getField(uidOid)[0];
  if (accountId) {
    const row = (await store.db.select().from(accounts).where(and(eq(accounts.accountId, accountId.toLowerCase()))).limit(1))[0];
    if (row && (await signedBy(leaf, accountFromRow(row).certificate))) {
      log.warn({ deviceId, accountId }, "device login by a device this server no longer knows");
      throw unauthorized("device_revoked", "this device is not enrolled any more");
    }
  }
  log.warn({ deviceId, issuer: leaf.issuer }, "device login with a certificate from another CA");
  throw forbidden("foreign_certificate");
}
