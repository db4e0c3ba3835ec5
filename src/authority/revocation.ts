/**
 * @module Revoking devices and users. A revocation marks the rows and every certificate
 * concerned, and re-signs the affected CRLs in the same transaction, so CRLs and OCSP reflect it
 * at once. The revoked device's next login gets 401, which makes the Jami client delete it.
 */
import { and, eq, isNull } from "drizzle-orm";
import { AppError } from "../api/errors.ts";
import { readInstallSettings } from "../install/setup.ts";
import { logger } from "../log/logger.ts";
import type { Store, Transaction } from "../store/database.ts";
import { accounts, certificates, devices, users, type DeviceRow, type UserRow } from "../store/schema.ts";
import { accountFromRow } from "./accounts.ts";
import { loadCa } from "./ca.ts";
import { rebuildCrl } from "./crl.ts";
import { caIssuerId } from "./revocation-urls.ts";

const log = logger("revocation");

/** RFC 5280 CRL reason names used by this server. */
export type RevocationReason = "unspecified" | "keyCompromise" | "cessationOfOperation" | "superseded" | "privilegeWithdrawn";

export const revocationReasons: RevocationReason[] = [
  "unspecified",
  "keyCompromise",
  "cessationOfOperation",
  "superseded",
  "privilegeWithdrawn",
];

/**
 * Revokes `device` and all its certificates. Revoking a revoked device changes nothing: the
 * first time, reason and CRL stand.
 */
export async function revokeDevice(store: Store, device: DeviceRow, reason: RevocationReason, by: string): Promise<void> {
  const now = Date.now();
  const revoked = await store.write(async (tx) => {
    const current = (await tx.select().from(devices).where(eq(devices.id, device.id)).limit(1))[0];
    if (!current || current.revokedAt !== null) return false;
    await markDevice(tx, device, reason, now);
    await rebuildAccountCrl(tx, device.userId);
    return true;
  });
  if (revoked) log.info({ deviceId: device.deviceId, userId: device.userId, reason, by }, "revoked device");
}

/**
 * Revokes a user: every device, every account certificate, and the user itself, so the user
 * can neither log in nor enroll again. The username stays taken.
 */
export async function revokeUser(store: Store, user: UserRow, reason: RevocationReason, by: string): Promise<void> {
  const now = Date.now();
  await store.write(async (tx) => {
    const owned = await tx.select().from(devices).where(and(eq(devices.userId, user.id), isNull(devices.revokedAt)));
    for (const device of owned) await markDevice(tx, device, reason, now);
    await tx
      .update(certificates)
      .set({ revokedAt: now, revocationReason: reason })
      .where(and(eq(certificates.userId, user.id), eq(certificates.kind, "account"), isNull(certificates.revokedAt)));
    await tx.update(users).set({ revokedAt: now }).where(and(eq(users.id, user.id), isNull(users.revokedAt)));
    await rebuildAccountCrl(tx, user.id);
    await rebuildCaCrl(tx);
  });
  log.info({ user: user.username, reason, by }, "revoked user");
}

async function markDevice(tx: Transaction, device: DeviceRow, reason: RevocationReason, now: number): Promise<void> {
  await tx
    .update(devices)
    .set({ revokedAt: now, revocationReason: reason })
    .where(and(eq(devices.id, device.id), isNull(devices.revokedAt)));
  await tx
    .update(certificates)
    .set({ revokedAt: now, revocationReason: reason })
    .where(and(eq(certificates.deviceId, device.deviceId), isNull(certificates.revokedAt)));
}

async function rebuildAccountCrl(tx: Transaction, userId: number): Promise<void> {
  const row = (await tx.select().from(accounts).where(eq(accounts.userId, userId)).limit(1))[0];
  const settings = await readInstallSettings(tx);
  if (!row || !settings) return;
  await rebuildCrl(tx, accountFromRow(row), row.accountId, settings, userId);
}

async function rebuildCaCrl(tx: Transaction): Promise<void> {
  const ca = await loadCa(tx);
  const settings = await readInstallSettings(tx);
  if (!ca || !settings) throw new AppError(503, "not_installed");
  await rebuildCrl(tx, ca, caIssuerId, settings);
}
