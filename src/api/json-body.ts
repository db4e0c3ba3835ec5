/** @module Reading JSON request bodies with clear 400s. */
import type { Context } from "hono";
import { badRequest } from "./errors.ts";

/** Reads the body as JSON; an empty body reads as `{}`. Junk is a 400 `invalid_json`. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("invalid_json", "the request body is not valid JSON");
  }
}

/** Reads the body as a JSON object; anything else is a 400. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const body = await readJson(c);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("invalid_request", "the request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}
