/**
 * @module The HTTP application: middleware, routes and the one error renderer.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { logger } from "../log/logger.ts";
import type { AppEnv, Services } from "./context.ts";
import { LoginThrottle } from "../users/login-throttle.ts";
import { AppError, ErrorCode } from "./errors.ts";
import { limitBody } from "./middleware/body-limit.ts";
import { requestLog } from "./middleware/request-log.ts";
import { adminDeviceRoutes } from "./routes/admin-devices.ts";
import { adminEventRoutes } from "./routes/admin-events.ts";
import { adminSettingsRoutes } from "./routes/admin-settings.ts";
import { adminStatsRoutes } from "./routes/admin-stats.ts";
import { adminUserDetailRoutes } from "./routes/admin-user-detail.ts";
import { adminSupervisorRoutes } from "./routes/admin-supervisor.ts";
import { adminDirectoryRoutes } from "./routes/admin-directory.ts";
import { adminUserRoutes } from "./routes/admin-users.ts";
import { deviceEnrollRoutes } from "./routes/device-enroll.ts";
import { deviceRoutes } from "./routes/devices.ts";
import { directorySearchRoutes } from "./routes/directory-search.ts";
import { infoRoutes } from "./routes/info.ts";
import { installRoutes } from "./routes/install.ts";
import { loginRoutes } from "./routes/login.ts";
import { nameServerRoutes } from "./routes/nameserver.ts";
import { policyRoutes } from "./routes/policy.ts";
import { revocationServiceRoutes } from "./routes/revocation-services.ts";
import { maxSyncBodyBytes, syncPaths, syncRoutes } from "./routes/sync.ts";
import { uiRoutes } from "./routes/ui.ts";

/** The largest request body accepted outside the sync routes, in bytes. A CA import fits easily. */
export const maxBodyBytes = 64 * 1024;

const log = logger("http");

/** Builds the application with all routes mounted. */
export function createApp(input: Services): Hono<AppEnv> {
  const services: Services = { ...input, loginThrottle: input.loginThrottle ?? new LoginThrottle() };
  const app = new Hono<AppEnv>();

  app.use(requestLog());
  app.use("/api/*", async (c, next) => {
    await next();
    // API replies carry tokens and personal data. Routes whose replies may be cached set
    // their own header.
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  });

  const smallBodies = limitBody(maxBodyBytes);
  const syncBodies = limitBody(maxSyncBodyBytes);
  app.use((c, next) => (c.req.path in syncPaths ? syncBodies(c, next) : smallBodies(c, next)));

  for (const routes of [
    infoRoutes,
    installRoutes,
    loginRoutes,
    deviceEnrollRoutes,
    deviceRoutes,
    policyRoutes,
    nameServerRoutes,
    syncRoutes,
    revocationServiceRoutes,
    adminUserRoutes,
    adminDirectoryRoutes,
    directorySearchRoutes,
    adminDeviceRoutes,
    adminSupervisorRoutes,
    adminUserDetailRoutes,
    adminStatsRoutes,
    adminEventRoutes,
    adminSettingsRoutes,
  ]) {
    app.route("/", routes(services));
  }
  // Last, so that every API route matches first. It never serves /api paths.
  app.route("/", uiRoutes());

  app.notFound((c) => renderError(new AppError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`), c));
  app.onError(renderError);
  return app;
}

/** Turns any thrown error into a JSON response; unexpected errors are logged and become 500. */
export function renderError(error: Error, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId");
  if (error instanceof AppError) {
    c.get("logFields").error = error.code;
    if (error.status >= 500 && error.cause) log.error({ err: loggableError(error.cause), request_id: requestId }, error.message);
    const body: Record<string, unknown> = { error: error.code, message: error.message, requestId };
    if (error.details !== undefined) body.details = error.details;
    const retryAfter = (error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    if (retryAfter !== undefined) c.header("Retry-After", String(retryAfter));
    return c.json(body, error.status);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return c.json({ error: "invalid_request", message: error.message, requestId }, error.status);
  }
  if (isClientAbort(error)) {
    // The client closed the connection mid-request. Nothing failed here, and no one reads
    // the response.
    c.get("logFields").error = "client_aborted";
    return c.json({ error: "invalid_request", message: "the request was aborted by the client", requestId }, 400);
  }
  log.error({ err: loggableError(error), request_id: requestId }, "unhandled error");
  return c.json({ error: "internal_error", message: ErrorCode.internal_error, requestId }, 500);
}

function isClientAbort(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return error.message === "aborted" || code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE";
}

/**
 * Returns an error for the log without the bound parameters that database errors quote, which
 * could hold password hashes or private keys.
 */
export function loggableError(error: unknown): { type: string; message: string; stack?: string } {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error) };
  const redact = (text: string) => text.replace(/params:[\s\S]*?(\n {4}at |$)/g, "params: [redacted]$1");
  return { type: error.name, message: redact(error.message), stack: error.stack ? redact(error.stack) : undefined };
}
