/** @module Status routes: `/api/info` for the setup wizard, and health probes. */
import { Hono } from "hono";
import { loadCa } from "../../authority/ca.ts";
import { readSetupStep } from "../../install/setup.ts";
import { version } from "../../version.ts";
import type { AppEnv, Services } from "../context.ts";

export function infoRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/api/info", async (c) => {
    const step = await readSetupStep(services.store.db);
    return c.json({ installed: step === "done", setupStep: step, version });
  });

  app.get("/livez", (c) => c.json({ status: "ok" }));

  const ready = async () => {
    const step = await readSetupStep(services.store.db);
    const ca = step === "done" ? Boolean(await loadCa(services.store.db)) : true;
    return { database: "ok", setup: step === "done" ? "complete" : "pending", ca: ca ? "ok" : "missing", ...childChecks(services) };
  };
  for (const path of ["/readyz", "/healthz"]) {
    app.get(path, async (c) => {
      const checks = await ready().catch(() => ({ database: "failed" }));
      const healthy = Object.values(checks).every((value) => value !== "failed" && value !== "missing");
      if (!healthy) return c.json({ status: "unavailable", checks }, 503);
      const degraded = Object.values(checks).includes("degraded");
      return c.json({ status: degraded ? "degraded" : "ok", checks }, 200);
    });
  }
  return app;
}

/**
 * Reports each supervised child as `ok` (running and healthy), `starting`, or `degraded`.
 * A child that is down degrades readiness without failing it: enrollment and login still work,
 * and restarting the appliance would not bring back a missing binary.
 */
function childChecks(services: Services): Record<string, string> {
  const checks: Record<string, string> = {};
  for (const child of services.network?.status() ?? []) {
    if (child.state === "running") checks[child.name] = "ok";
    else if (child.state === "starting" && child.restarts === 0) checks[child.name] = "starting";
    else checks[child.name] = "degraded";
  }
  return checks;
}
