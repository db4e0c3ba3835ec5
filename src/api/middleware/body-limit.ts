/**
 * @module Request body size limit.
 *
 * Hono's own bodyLimit wraps chunked bodies in `new Request(c.req.raw, ...)`, which Deno
 * rejects for the request objects @hono/node-server creates. This middleware checks
 * Content-Length, and reads a chunked body itself up to the limit into Hono's body cache, from
 * which `c.req.text()` and friends then read.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context.ts";
import { AppError } from "../errors.ts";

/** Rejects with 413 `body_too_large` a request body longer than `maxBytes`. */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const tooLarge = () => new AppError(413, "body_too_large", `the request body is larger than ${maxBytes} bytes`);
  return async (c, next) => {
    const length = c.req.header("content-length");
    if (length !== undefined) {
      if (Number(length) > maxBytes) throw tooLarge();
      return next();
    }
    if (!c.req.header("transfer-encoding") || !c.req.raw.body) return next();
    const reader = c.req.raw.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let part = await reader.read(); !part.done; part = await reader.read()) {
      total += part.value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(part.value);
    }
    const body = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    // Hono keeps promises in its body cache although its type declares the values.
    (c.req.bodyCache as Record<string, unknown>).arrayBuffer = Promise.resolve(body.buffer);
    return next();
  };
}
