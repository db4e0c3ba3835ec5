/**
 * @module `GET /api/admin/settings`: the server parameters chosen at setup (public URL,
 * certificate lifetimes in milliseconds, name server choice), the user source and the version.
 * `PUT /api/admin/settings` changes the parameters. New values apply to certificates issued
 * afterwards; enrolled devices keep theirs until they enroll again.
 */
import { Hono } from "hono";
import { installSettingsKey, installSettingsSchema, publicNameServerUrl } from "../../config/install-settings.ts";
import { parseInstallSettings, readAuthType, readInstallSettings } from "../../install/setup.ts";
import { logger } from "../../log/logger.ts";
import { writeSetting } from "../../store/settings-repo.ts";
import { version } from "../../version.ts";
import type { AppEnv, Services } from "../context.ts";
import { AppError } from "../errors.ts";
import { readJsonObject } from "../json-body.ts";
import { requireScope } from "../middleware/auth.ts";

const log = logger("settings");

export function adminSettingsRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { db } = services.store;

  const describe = async () => {
    const stored = await readInstallSettings(db);
    const settings = stored ?? installSettingsSchema.parse({});
    const nameServer = settings.publicNameServer ? publicNameServerUrl : `${settings.serverDomain ?? ""}/api/nameserver`;
    return { settings, nameServer, authType: await readAuthType(db), version };
  };

  app.get("/api/admin/settings", requireScope(services, "ADMIN"), async (c) => c.json(await describe()));

  app.put("/api/admin/settings", requireScope(services, "ADMIN"), async (c) => {
    const body = await readJsonObject(c);
    const stored = await readInstallSettings(db);
    if (!stored) throw new AppError(409, "not_installed", "setup is not complete; finish it with the setup wizard first");
    // Members left out keep their value; a null server domain removes it.
    const merged: Record<string, unknown> = { ...stored, ...body };
    if (merged.serverDomain === null) delete merged.serverDomain;
    const settings = parseInstallSettings(merged);
    await services.store.write((tx) => writeSetting(tx, installSettingsKey, settings));
    const changed = Object.keys(settings).filter((key) => JSON.stringify(settings[key as keyof typeof settings]) !== JSON.stringify(stored[key as keyof typeof stored]));
    log.info({ by: c.get("user").username, changed }, "changed server settings");
    return c.json(await describe());
  });

  return app;
}
