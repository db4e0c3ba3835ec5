/**
 * @module Directory administration: the settings (`GET`/`PUT /api/admin/directory/settings`),
 * the connection test (`POST /api/admin/directory/test`) and the paged user listing
 * (`GET /api/admin/directory/users?q=&page=&pageSize=`). The bind password is never returned.
 */
import { Hono } from "hono";
import { Directory } from "../../directory/directory.ts";
import { listDirectoryUsers, readPositiveInteger, readQuery } from "../../directory/search.ts";
import {
  connectionParameters,
  parseDirectorySettings,
  readDirectorySettings,
  redactSettings,
  writeDirectorySettings,
} from "../../directory/settings.ts";
import { readAuthType } from "../../install/setup.ts";
import { logger } from "../../log/logger.ts";
import type { AppEnv, Services } from "../context.ts";
import { badRequest, conflict } from "../errors.ts";
import { readJsonObject } from "../json-body.ts";
import { requireScope } from "../middleware/auth.ts";

const log = logger("directory");

/** The maximum number of users on one page of the admin listing. */
const maxAdminPageSize = 1000;

export function adminDirectoryRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = services;
  const admin = requireScope(services, "ADMIN");

  app.get("/api/admin/directory/settings", admin, async (c) => {
    const type = await readAuthType(store.db);
    const settings = type === "LOCAL" ? undefined : await readDirectorySettings(store.db);
    return c.json({ type, ...(settings ? { settings: redactSettings(settings) } : {}) });
  });

  app.put("/api/admin/directory/settings", admin, async (c) => {
    const body = await readJsonObject(c);
    const type = await readAuthType(store.db);
    const requested = body.type ?? type;
    if (requested !== type) {
      throw conflict(
        "user_source_change_unsupported",
        `the user source is ${type} and cannot change to ${JSON.stringify(requested)}: users, accounts and devices are tied to ` +
          `their ${type} names. Set up a new installation to use another source.`,
        { current: type },
      );
    }
    if (type === "LOCAL") throw conflict("directory_not_configured");

    const previous = await readDirectorySettings(store.db);
    const settings = parseDirectorySettings(body.settings, type, previous);
    await store.write((tx) => writeDirectorySettings(tx, settings));
    log.info({ settings: redactSettings(settings), by: c.get("user").username }, "directory settings changed");
    return c.json({ type, settings: redactSettings(settings) });
  });

  app.post("/api/admin/directory/test", admin, async (c) => {
    const body = await readJsonObject(c);
    const stored = await readDirectorySettings(store.db);
    const type = body.type ?? stored?.type;
    if (type !== "LDAP" && type !== "AD") {
      throw badRequest("invalid_settings", 'type must be "LDAP" or "AD", or directory settings must be saved first');
    }
    const settings = body.settings === undefined && stored?.type === type ? stored : parseDirectorySettings(body.settings, type, stored);

    const directory = new Directory(connectionParameters(settings));
    try {
      const report = await directory.test();
      c.get("logFields").testOk = report.ok;
      return c.json(report);
    } finally {
      await directory.close();
    }
  });

  app.get("/api/admin/directory/users", admin, async (c) => {
    const query = readQuery(c.req.query("q") ?? "*", "q");
    const page = readPositiveInteger(c.req.query("page"), "page", 1, 100_000);
    const pageSize = readPositiveInteger(c.req.query("pageSize"), "pageSize", 100, maxAdminPageSize);

    return c.json(await listDirectoryUsers(store, query, page, pageSize));
  });

  return app;
}
