/** @module `POST /api/auth/device`: device enrollment by a Jami client. */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { loadCa } from "../../authority/ca.ts";
import { enrollDevice } from "../../authority/enrollment.ts";
import { readInstallSettings } from "../../install/setup.ts";
import { users } from "../../store/schema.ts";
import { verifyToken } from "../../tokens/tokens.ts";
import { authenticateWithProfile, type Authenticated } from "../../users/authenticate.ts";
import { throttled } from "../../users/login-throttle.ts";
import type { AppEnv, Services } from "../context.ts";
import { AppError, forbidden, unauthorized } from "../errors.ts";
import { readJsonObject } from "../json-body.ts";
import { readBasicCredentials } from "../middleware/auth.ts";

export function deviceEnrollRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/api/auth/device", async (c) => {
    const settings = await readInstallSettings(services.store.db);
    const ca = settings ? await loadCa(services.store.db) : undefined;
    if (!settings || !ca) throw new AppError(503, "not_installed");

    const { user, profile } = await authenticateUser(services, c.req.header("authorization"), c.env?.remoteAddress ?? "unknown");
    c.get("logFields").user = user.username;
    if (user.revokedAt !== null) throw forbidden("user_revoked", "this user was revoked and cannot enroll devices");
    if (user.disabled) throw forbidden("user_disabled", "this user is disabled and cannot enroll devices");

    const body = await readJsonObject(c);
    const reply = await enrollDevice({
      store: services.store,
      ca,
      settings,
      user,
      csr: body.csr,
      deviceName: body.deviceName,
      networkSettings: services.network ? (deviceId) => services.network!.accountSettings(deviceId) : undefined,
      photo: profile?.photo,
    });
    return c.json(reply);
  });

  return app;
}

/** Basic credentials (the Jami client's way) or a USER bearer token. */
async function authenticateUser(services: Services, header: string | undefined, address: string): Promise<Authenticated> {
  const basic = readBasicCredentials(header);
  if (basic) {
    return throttled(services.loginThrottle!, basic.username, address, () =>
      authenticateWithProfile(services, basic.username, basic.password),
    );
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  const claims = bearer ? await verifyToken(services.tokenSecret, bearer[1]!) : undefined;
  if (!claims) throw unauthorized("credentials_required", "send the user's name and password with HTTP Basic");
  if (claims.scope === "DEVICE") throw forbidden("forbidden", "enrollment needs the user's credentials, not a device token");
  const user = (await services.store.db.select().from(users).where(eq(users.id, claims.uid)).limit(1))[0];
  if (!user) throw unauthorized("not_authenticated");
  return { user };
}
