/** @module A user's own devices: list (`GET /api/auth/devices`) and revoke (`DELETE /api/auth/device/{id}`). */
import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { revokeDevice } from "../../authority/revocation.ts";
import { devices } from "../../store/schema.ts";
import type { AppEnv, Services } from "../context.ts";
import { badRequest, notFound } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";

/** A device as Jami clients read it: 64-hex `deviceId`, `alias`, and `revoked` as a JSON boolean. */
export interface DeviceEntry {
  deviceId: string;
  alias: string;
  displayName: string;
  revoked: boolean;
}

export function deviceRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = services;

  app.get("/api/auth/devices", requireScope(services, "DEVICE"), async (c) => {
    const rows = await store.db.select().from(devices).where(eq(devices.userId, c.get("user").id));
    const list: DeviceEntry[] = rows.map((row) => {
      // An unnamed device gets the name the Jami client gives it: its id minus 8 characters.
      const alias = row.name || row.deviceId.slice(8);
      return { deviceId: row.deviceId, alias, displayName: alias, revoked: row.revokedAt !== null };
    });
    return c.json(list);
  });

  app.delete("/api/auth/device/:deviceId", requireScope(services, "USER"), async (c) => {
    const deviceId = c.req.param("deviceId").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(deviceId)) {
      throw badRequest("invalid_request", "the device id must be 64 hexadecimal characters", { errorDetails: "invalid device id" });
    }
    const user = c.get("user");
    const row = (
      await store.db.select().from(devices).where(and(eq(devices.deviceId, deviceId), eq(devices.userId, user.id))).limit(1)
    )[0];
    if (!row) throw notFound("device_not_found");
    await revokeDevice(store, row, "cessationOfOperation", user.username);
    c.get("logFields").device = deviceId;
    return c.json({ success: true });
  });

  return app;
}
