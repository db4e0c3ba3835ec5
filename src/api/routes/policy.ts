/**
 * @module `GET /api/auth/policyData`: the account settings a device applies at every start.
 * Values must be scalars; the client ignores the whole object if one is not.
 */
import { Hono } from "hono";
import type { AppEnv, Services } from "../context.ts";
import { requireScope } from "../middleware/auth.ts";

export function policyRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // NOTE: no blueprints yet, so every user gets an empty policy and keeps the client defaults.
  app.get("/api/auth/policyData", requireScope(services, "DEVICE"), (c) => c.json({}));

  return app;
}
