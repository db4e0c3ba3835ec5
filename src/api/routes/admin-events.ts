/**
 * @module `GET /api/admin/events?limit=`: the latest warn and error log lines kept in memory
 * (at most 200, newest first), so administrators see failures without reading the journal.
 * The buffer is per process and starts empty at each start.
 */
import { Hono } from "hono";
import { listRecentEvents, recentEventCapacity } from "../../log/recent-events.ts";
import type { AppEnv, Services } from "../context.ts";
import { badRequest } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";

export function adminEventRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/api/admin/events", requireScope(services, "ADMIN"), (c) => {
    const raw = c.req.query("limit");
    const limit = raw === undefined ? 50 : Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > recentEventCapacity) {
      throw badRequest("invalid_request", `limit must be an integer from 1 to ${recentEventCapacity}`);
    }

    return c.json(listRecentEvents(limit));
  });

  return app;
}
