/**
 * @module Administration of devices: `GET /api/admin/devices` lists them with their status,
 * `DELETE /api/admin/device/{deviceId}` revokes any user's device.
 */
import { and, count, desc, eq, gt, isNotNull, isNull, lte, type SQL } from "drizzle-orm";
import { Hono } from "hono";
import { revokeDevice, type RevocationReason } from "../../authority/revocation.ts";
import { devices, users } from "../../store/schema.ts";
import type { AppEnv, Services } from "../context.ts";
import { badRequest, notFound } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";
import { readPage, readReason } from "./admin-query.ts";

export type DeviceStatus = "active" | "revoked" | "expired";

export function adminDeviceRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { db } = services.store;

  app.use("/api/admin/device/*", requireScope(services, "ADMIN"));
  app.use("/api/admin/devices", requireScope(services, "ADMIN"));

  app.get("/api/admin/devices", async (c) => {
    const { limit, offset } = readPage(c.req.query());
    const conditions: SQL[] = [];
    const status = c.req.query("status");
    const now = Date.now();
    if (status === "active") conditions.push(isNull(devices.revokedAt), gt(devices.notAfter, now));
    else if (status === "revoked") conditions.push(isNotNull(devices.revokedAt));
    else if (status === "expired") conditions.push(isNull(devices.revokedAt), lte(devices.notAfter, now));
    else if (status !== undefined) throw badRequest("invalid_request", "status must be active, revoked or expired");
    const username = c.req.query("username");
    if (username !== undefined) conditions.push(eq(users.username, username));
    const where = conditions.length > 0 ? and(...conditions) : undefined;

    const total = (await db.select({ value: count() }).from(devices).innerJoin(users, eq(users.id, devices.userId)).where(where))[0]!.value;
    const rows = await db
      .select({ device: devices, username: users.username })
      .from(devices)
      .innerJoin(users, eq(users.id, devices.userId))
      .where(where)
      .orderBy(desc(devices.enrolledAt))
      .limit(limit)
      .offset(offset);
    return c.json({ total, limit, offset, devices: rows.map((row) => describeDevice(row.device, row.username, now)) });
  });

  app.delete("/api/admin/device/:deviceId", async (c) => {
    const deviceId = c.req.param("deviceId").toLowerCase();
    const row = (await db.select().from(devices).where(eq(devices.deviceId, deviceId)).limit(1))[0];
    if (!row) throw notFound("device_not_found", "no device with this id");
    const reason: RevocationReason = readReason(c.req.query("reason"), "cessationOfOperation");
    await revokeDevice(services.store, row, reason, c.get("user").username);
    c.get("logFields").device = deviceId;
    return c.json({ success: true, deviceId, reason });
  });

  return app;
}

/** Returns a device as the admin API shows it. */
export function describeDevice(device: typeof devices.$inferSelect, username: string, now = Date.now()) {
  let status: DeviceStatus = "active";
  if (device.revokedAt !== null) status = "revoked";
  else if (device.notAfter <= now) status = "expired";
  return {
    deviceId: device.deviceId,
    username,
    name: device.name,
    status,
    serial: device.serial,
    enrolledAt: new Date(device.enrolledAt).toISOString(),
    renewedAt: new Date(device.renewedAt).toISOString(),
    notAfter: new Date(device.notAfter).toISOString(),
    revokedAt: device.revokedAt === null ? null : new Date(device.revokedAt).toISOString(),
    revocationReason: device.revocationReason,
  };
}


