/** @module One structured log line per request, with fields handlers add along the way. */
import type { MiddlewareHandler } from "hono";
import { clean, logger } from "../../log/logger.ts";
import type { AppEnv } from "../context.ts";

const log = logger("http");
const probePaths = new Set(["/livez", "/readyz", "/healthz"]);

/** Assigns a request id and writes the request's log line when the response is ready. */
export function requestLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("logFields", {});
    await next();
    const status = c.res.status;
    const fields = {
      request_id: requestId,
      method: c.req.method,
      path: clean(new URL(c.req.url).pathname),
      route: c.req.routePath,
      status,
      duration_ms: Math.round(performance.now() - started),
      remote_addr: c.env?.remoteAddress,
      ...c.get("logFields"),
    };
    if (probePaths.has(fields.path)) log.debug(fields, "request");
    else if (status >= 500) log.error(fields, "request");
    else if (status >= 400) log.warn(fields, "request");
    else log.info(fields, "request");
  };
}
