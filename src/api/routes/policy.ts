/**
 * @module `GET /api/auth/policyData`: the account settings a device applies at every start.
 * Values must be scalars; the client ignores the whole object if one is not. The reply carries
 * the supervised DHT bootstrap and TURN server, with TURN credentials issued afresh each time.
 */
import { Hono } from "hono";
import type { AppEnv, Services } from "../context.ts";
import { requireScope } from "../middleware/auth.ts";

export function policyRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // NOTE: no blueprints yet, so apart from the network settings every user keeps the client defaults.
  app.get("/api/auth/policyData", requireScope(services, "DEVICE"), (c) => {
    const claims = c.get("claims");
    const deviceId = claims.dev ?? `user-${claims.uid}`;
    return c.json(services.network?.accountSettings(deviceId) ?? {});
  });

  return app;
}
