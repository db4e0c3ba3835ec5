/**
 * @module `GET /api/auth/directory/search?queryString=<q>[&page=<n>]`: the Jami client's user
 * search. Replies `{"profiles": [...], "numPages": n}`, where each profile has only string
 * members (the client drops any other). A directory outage is a 503, never a 401.
 */
import { Hono } from "hono";
import { readPositiveInteger, readQuery, searchProfiles } from "../../directory/search.ts";
import type { AppEnv, Services } from "../context.ts";
import { requireScope } from "../middleware/auth.ts";

export function directorySearchRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/api/auth/directory/search", requireScope(services, "DEVICE"), async (c) => {
    const query = readQuery(c.req.query("queryString"), "queryString");
    const page = readPositiveInteger(c.req.query("page"), "page", 1, 100_000);

    const result = await searchProfiles(services.store, query, page);
    c.get("logFields").results = result.profiles.length;
    return c.json(result);
  });

  return app;
}
