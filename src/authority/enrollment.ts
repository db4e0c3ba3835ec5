/**
 * @module Device enrollment: a user's CSR becomes a device certificate signed by the user's
 * account key, returned with the chain, a signed receipt and the client configuration.
 */
import { eq } from "drizzle-orm";
import { AppError, conflict, forbidden } from "../api/errors.ts";
import { publicNameServerUrl, type InstallSettings } from "../config/install-settings.ts";
import { logger } from "../log/logger.ts";
import { issueDeviceCertificate, type Issuer } from "../pki/certificates.ts";
import { readDeviceCsr } from "../pki/csr.ts";
import { longId, shortId } from "../pki/ids.ts";
import type { x509 } from "../pki/x509.ts";
import type { Store } from "../store/database.ts";
import { certificates, devices, type DeviceRow, type UserRow } from "../store/schema.ts";
import { ensureAccount } from "./accounts.ts";
import { signDeviceReceipt } from "./receipt.ts";
import { revocationUrlsFor } from "./revocation-urls.ts";
import { assertReplyUsable } from "./reply-check.ts";

const log = logger("enrollment");

/** The enrollment reply. Every member is a scalar: the client rejects objects and arrays. */
export type EnrollmentReply = Record<string, string | number | boolean>;

/** Maximum length of a stored device name; longer names are cut. */
export const maxDeviceNameLength = 64;

/** Enrolls (or re-enrolls, for a key already known) a device for `user`. */
export async function enrollDevice(input: {
  store: Store;
  ca: Issuer;
  settings: InstallSettings;
  user: UserRow;
  csr: unknown;
  deviceName: unknown;
  /** The user's photo from the directory, as base64; sent as `userPhoto`. */
  photo?: string;
  /** Network account settings for the device (DHT bootstrap, TURN), from the supervisor. */
  networkSettings?: (deviceId: string) => Record<string, string>;
  /** The clock, for tests of expiry; defaults to now. */
  now?: Date;
}): Promise<EnrollmentReply> {
  const { store, ca, settings, user } = input;
  const now = input.now ?? new Date();
  const request = await readDeviceCsr(input.csr);
  const deviceId = longId(request.spki);
  const deviceShortId = shortId(request.spki);
  const known = (await store.db.select().from(devices).where(eq(devices.deviceId, deviceId)).limit(1))[0];
  checkKnownDevice(known, user);

  const account = await ensureAccount(store, ca, user, settings, now);
  const urls = revocationUrlsFor(settings, account.accountId);
  const issued = await issueDeviceCertificate(account, request.spki, settings.deviceLifetime, now, urls);
  const receipt = await signDeviceReceipt({
    accountKey: account.key,
    accountId: account.accountId,
    deviceShortId,
    deviceSpki: request.spki,
  });
  const chain = [issued.certificate, account.certificate, ca.certificate];
  await checkReply(chain, request.spki, receipt.deviceReceipt, receipt.receiptSignature);

  const name = cleanDeviceName(input.deviceName, known?.name);
  await saveDevice(store, { user, deviceId, deviceShortId, name, issued, now: now.getTime() });
  log.info(
    { user: user.username, accountId: account.accountId, deviceId, serial: issued.serial, renewed: Boolean(known) },
    known ? "re-enrolled device" : "enrolled device",
  );
  const reply: EnrollmentReply = {
    certificateChain: [issued.pem, account.row.certificatePem, ca.certificate.toString("pem") + "\n"].join(""),
    deviceReceipt: receipt.deviceReceipt,
    receiptSignature: receipt.receiptSignature,
    nameServer: nameServerFor(settings),
  };
  if (user.displayName) reply["Account.displayName"] = user.displayName;
  if (input.photo) reply.userPhoto = input.photo;
  Object.assign(reply, input.networkSettings?.(deviceId));
  return reply;
}

function checkKnownDevice(known: DeviceRow | undefined, user: UserRow): void {
  if (!known) return;
  if (known.userId !== user.id) {
    throw conflict("device_key_in_use", "this device key is already enrolled for another user; the device must create a new key");
  }
  if (known.revokedAt !== null) {
    throw forbidden("device_revoked", "this device key was revoked; the device must enroll with a new key");
  }
}

async function checkReply(
  chain: x509.X509Certificate[],
  deviceSpki: Uint8Array,
  receipt: string,
  receiptSignature: string,
): Promise<void> {
  try {
    await assertReplyUsable({ chain, deviceSpki, receipt, receiptSignature });
  } catch (error) {
    log.error({ err: error }, "built an enrollment reply the client could not use; nothing was stored");
    throw new AppError(500, "internal_error", undefined, { cause: error });
  }
}

/** Returns the name server URL for the reply: our own, under the public base URL when one is set. */
export function nameServerFor(settings: InstallSettings): string {
  if (settings.publicNameServer) return publicNameServerUrl;
  // A relative path resolves against whatever manager URL the client typed.
  return settings.serverDomain ? `${settings.serverDomain}/api/nameserver` : "/api/nameserver";
}

function cleanDeviceName(name: unknown, previous: string | undefined): string {
  if (typeof name !== "string") return previous ?? "";
  const cleaned = name.replace(/[\u0000-\u001f\u007f]/g, "").trim().slice(0, maxDeviceNameLength);
  return cleaned || previous || "";
}

async function saveDevice(
  store: Store,
  input: {
    user: UserRow;
    deviceId: string;
    deviceShortId: string;
    name: string;
    issued: Awaited<ReturnType<typeof issueDeviceCertificate>>;
    now: number;
  },
): Promise<void> {
  const now = input.now;
  const { issued } = input;
  const certificate = { certificatePem: issued.pem, serial: issued.serial, notAfter: issued.notAfter.getTime(), renewedAt: now };
  await store.write(async (tx) => {
    // Checked again inside the transaction: another enrollment of this key may have won a race.
    const current = (await tx.select().from(devices).where(eq(devices.deviceId, input.deviceId)).limit(1))[0];
    checkKnownDevice(current, input.user);
    if (current) {
      await tx.update(devices).set({ ...certificate, name: input.name }).where(eq(devices.deviceId, input.deviceId));
    } else {
      await tx.insert(devices).values({
        ...certificate,
        userId: input.user.id,
        deviceId: input.deviceId,
        shortId: input.deviceShortId,
        name: input.name,
        enrolledAt: now,
      });
    }
    await tx.insert(certificates).values({
      serial: issued.serial,
      kind: "device",
      subject: issued.certificate.subject,
      userId: input.user.id,
      deviceId: input.deviceId,
      issuedAt: now,
      notAfter: certificate.notAfter,
    });
  });
}
