/**
 * @module `GET /api/admin/settings`: the server parameters chosen at setup (public URL,
 * certificate lifetimes in milliseconds, name server choice), the user source and the version.
 */
import { Hono } from "hono";
import { installSettingsSchema, publicNameServerUrl } from "../../config/install-settings.ts";
import { readAuthType, readInstallSettings } from "../../install/setup.ts";
import { version } from "../../version.ts";
import type { AppEnv, Services } from "../context.ts";
import { requireScope } from "../middleware/auth.ts";

export function adminSettingsRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { db } = services.store;

  app.get("/api/admin/settings", requireScope(services, "ADMIN"), async (c) => {
    const stored = await readInstallSettings(db);
    const settings = stored ?? installSettingsSchema.parse({});
    const nameServer = settings.publicNameServer ? publicNameServerUrl : `${settings.serverDomain ?? ""}/api/nameserver`;
    return c.json({ settings, nameServer, authType: await readAuthType(db), version });
  });

  return app;
}
