/**
 * @module Throttling of password guessing. Failed logins are counted per user and client
 * address, per user, and per address over a sliding window. Past a limit, further attempts
 * are rejected with 429 before any password is checked, so a guess past the limit learns nothing.
 * A 429 is safe for Jami clients: only a 401 makes them delete their identity.
 */
import { AppError } from "../api/errors.ts";
import { clean, logger } from "../log/logger.ts";

const log = logger("login-throttle");

/** Failures allowed within the window, per key kind. */
export const loginLimits = { userAndAddress: 10, user: 50, address: 200 };
export const loginWindowMs = 15 * 60_000;
/** Counters kept at most; the oldest are dropped past this, so memory stays bounded. */
const maxKeys = 100_000;

/** Counts failed logins and refuses attempts past the limits. One instance per server. */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  private keys(username: string, address: string): [string, number][] {
    const user = username.normalize("NFKC").toLowerCase();
    return [
      [`pair:${user}\u0000${address}`, loginLimits.userAndAddress],
      [`user:${user}`, loginLimits.user],
      [`addr:${address}`, loginLimits.address],
    ];
  }

  private recent(key: string): number[] {
    const since = this.now() - loginWindowMs;
    const times = (this.failures.get(key) ?? []).filter((time) => time > since);
    if (times.length === 0) this.failures.delete(key);
    else this.failures.set(key, times);
    return times;
  }

  /** Throws 429 `too_many_attempts` when any counter for this attempt is at its limit. */
  check(username: string, address: string): void {
    for (const [key, limit] of this.keys(username, address)) {
      const times = this.recent(key);
      if (times.length >= limit) {
        const retryAfterSeconds = Math.max(1, Math.ceil((times[0]! + loginWindowMs - this.now()) / 1000));
        throw new AppError(429, "too_many_attempts", `too many failed logins; try again in ${retryAfterSeconds} s`, {
          details: { retryAfterSeconds },
        });
      }
    }
  }

  /** Records a failed login; logs once when a counter reaches its limit. */
  recordFailure(username: string, address: string): void {
    for (const [key, limit] of this.keys(username, address)) {
      const times = this.recent(key);
      times.push(this.now());
      this.failures.set(key, times);
      if (times.length === limit) {
        log.warn({ user: clean(username), address, limit, windowMs: loginWindowMs, kind: key.split(":")[0] }, "login attempts throttled");
      }
    }
    if (this.failures.size > maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  /** Clears the user-and-address counter after a successful login. */
  recordSuccess(username: string, address: string): void {
    this.failures.delete(this.keys(username, address)[0]![0]);
  }
}

/**
 * Runs `attempt` (a password check) under the throttle: refuses it when over the limit,
 * counts it when it fails with 401, and clears the pair counter when it succeeds.
 */
export async function throttled<T>(throttle: LoginThrottle, username: string, address: string, attempt: () => Promise<T>): Promise<T> {
  throttle.check(username, address);
  try {
    const result = await attempt();
    throttle.recordSuccess(username, address);
    return result;
  } catch (error) {
    if (error instanceof AppError && error.status === 401) throttle.recordFailure(username, address);
    throw error;
  }
}
