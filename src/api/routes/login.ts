/**
 * @module `POST /api/login`: tokens from a TLS client certificate (DEVICE), HTTP Basic (USER, the
 * Jami client's form) or JSON credentials (USER, or ADMIN for administrators).
 */
import { Hono } from "hono";
import { authenticateDevice } from "../../authority/device-login.ts";
import { issueToken } from "../../tokens/tokens.ts";
import { authenticate } from "../../users/authenticate.ts";
import { throttled } from "../../users/login-throttle.ts";
import type { AppEnv, Services } from "../context.ts";
import { badRequest, forbidden } from "../errors.ts";
import { readJsonObject } from "../json-body.ts";
import { readBasicCredentials } from "../middleware/auth.ts";

export function loginRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/api/login", async (c) => {
    const body = await readJsonObject(c);
    const basic = readBasicCredentials(c.req.header("authorization"));
    const json = jsonCredentials(body);
    const peer = c.env?.peerCertificates ?? [];
    const carriers = [peer.length > 0, Boolean(basic), Boolean(json)].filter(Boolean).length;
    if (carriers > 1) {
      throw badRequest("conflicting_credentials", "send one of: a client certificate, Basic credentials or JSON credentials");
    }

    if (basic || json) {
      const { username, password } = (basic ?? json)!;
      c.get("logFields").user = username;
      const address = c.env?.remoteAddress ?? "unknown";
      const user = await throttled(services.loginThrottle!, username, address, () => authenticate(services, username, password));
      if (user.revokedAt !== null) throw forbidden("user_revoked");
      if (user.disabled) throw forbidden("user_disabled");
      // Jami clients understand only DEVICE and USER, so Basic logins never get ADMIN.
      const scope = json && user.role === "admin" ? "ADMIN" : "USER";
      return c.json(await issueToken(services.tokenSecret, { sub: user.username, uid: user.id, scope }));
    }

    const { user, device } = await authenticateDevice(services.store, peer);
    Object.assign(c.get("logFields"), { user: user.username, device: device.deviceId });
    return c.json(
      await issueToken(services.tokenSecret, { sub: user.username, uid: user.id, scope: "DEVICE", dev: device.deviceId }),
    );
  });

  return app;
}

function jsonCredentials(body: Record<string, unknown>) {
  if (body.username === undefined && body.password === undefined) return undefined;
  if (typeof body.username !== "string" || typeof body.password !== "string") {
    throw badRequest("invalid_request", "username and password must both be strings");
  }
  return { username: body.username, password: body.password };
}
