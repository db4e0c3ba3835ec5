/** @module `GET /api/admin/supervisor`: status of the supervised DHT node and TURN server. */
import { Hono } from "hono";
import type { AppEnv, Services } from "../context.ts";
import { requireScope } from "../middleware/auth.ts";

export function adminSupervisorRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // An empty list means no child is enabled (or the app runs without a supervisor).
  app.get("/api/admin/supervisor", requireScope(services, "ADMIN"), (c) =>
    c.json({ children: services.network?.status() ?? [] }),
  );

  return app;
}
