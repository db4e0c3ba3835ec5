/**
 * @module An in-memory ring buffer of the latest warn and error log lines, for the admin
 * dashboard's "recent errors" panel (`GET /api/admin/events`).
 *
 * It keeps only an allow-list of fields from each line: time, level, component, message,
 * request id, method, path, status, error code, and the error's type and message. Other context
 * that a log call attaches never reaches the admin API.
 */

/** One warn or error log line as the admin API shows it. */
export interface RecentEvent {
  time: string;
  level: "warn" | "error" | "fatal";
  component: string | null;
  message: string;
  requestId: string | null;
  /** `METHOD /path STATUS` for request log lines; the path has no query string. */
  request: string | null;
  /** The API error code the request failed with, when the line is a request log line. */
  code: string | null;
  /** `Type: message` of the logged error, without its stack trace. */
  error: string | null;
}

/** The number of lines kept; older ones are dropped. */
export const recentEventCapacity = 200;

const maxTextLength = 500;
const events: RecentEvent[] = [];
let dropped = 0;

/** Records one serialized pino line; lines below warn or not valid JSON are ignored. */
export function recordLogLine(line: string): void {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const level = parsed.level;
  if (level !== "warn" && level !== "error" && level !== "fatal") return;
  events.push({
    time: typeof parsed.time === "string" ? parsed.time : new Date().toISOString(),
    level,
    component: text(parsed.component),
    message: text(parsed.msg) ?? "",
    requestId: text(parsed.request_id) ?? text(parsed.requestId),
    request: describeRequest(parsed),
    code: text(parsed.error),
    error: describeError(parsed.err),
  });
  if (events.length > recentEventCapacity) {
    events.shift();
    dropped += 1;
  }
}

/** Lists the recorded events, newest first, and how many older ones were dropped. */
export function listRecentEvents(limit = recentEventCapacity): { events: RecentEvent[]; dropped: number } {
  return { events: events.slice(-limit).reverse(), dropped };
}

/** Empties the buffer (for tests). */
export function clearRecentEvents(): void {
  events.length = 0;
  dropped = 0;
}

/** A pino destination stream that feeds the buffer. */
export const recentEventStream = { write: recordLogLine };

function text(value: unknown): string | null {
  if (typeof value !== "string" && typeof value !== "number") return null;
  return String(value).replace(/[\r\n]+/g, " ").slice(0, maxTextLength);
}

function describeRequest(line: Record<string, unknown>): string | null {
  const method = text(line.method);
  const path = text(line.path);
  if (!method || !path) return null;
  const status = text(line.status);
  return status ? `${method} ${path} ${status}` : `${method} ${path}`;
}

function describeError(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return text(value);
  const error = value as Record<string, unknown>;
  const message = text(error.message) ?? "";
  const type = text(error.type);
  return type ? `${type}: ${message}` : message;
}
