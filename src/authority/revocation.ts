/** @module Revoking devices: the device row and every certificate issued for it. */
import { and, eq, isNull } from "drizzle-orm";
import { logger } from "../log/logger.ts";
import type { Store } from "../store/database.ts";
import { certificates, devices, type DeviceRow } from "../store/schema.ts";

const log = logger("revocation");

/** RFC 5280 CRL reason names used by this server. */
export type RevocationReason = "unspecified" | "keyCompromise" | "cessationOfOperation" | "superseded" | "privilegeWithdrawn";

/** Revokes `device` and all its certificates in one transaction. Revoking twice changes nothing. */
export async function revokeDevice(store: Store, device: DeviceRow, reason: RevocationReason, by: string): Promise<void> {
  const now = Date.now();
  await store.write(async (tx) => {
    await tx
      .update(devices)
      .set({ revokedAt: now, revocationReason: reason })
      .where(and(eq(devices.id, device.id), isNull(devices.revokedAt)));
    await tx
      .update(certificates)
      .set({ revokedAt: now, revocationReason: reason })
      .where(and(eq(certificates.deviceId, device.deviceId), isNull(certificates.revokedAt)));
  });
  log.info({ deviceId: device.deviceId, userId: device.userId, reason, by }, "revoked device");
}
