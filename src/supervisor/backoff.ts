/** @module Restart timing for supervised children: exponential backoff and crash-loop detection. */

/** Timing of restarts and health checks for a supervised child. All durations are in milliseconds. */
export interface RestartPolicy {
  /** Delay before the first restart after a failure. */
  initialBackoffMs: number;
  /** Cap of the doubling restart delay. */
  maxBackoffMs: number;
  /** A child that ran this long before failing starts its backoff again from the initial delay. */
  stableAfterMs: number;
  /** This many failures within `crashLoopWindowMs` put the child in the `crash-loop` state. */
  crashLoopFailures: number;
  crashLoopWindowMs: number;
  /** Interval between health checks of a running child. */
  healthIntervalMs: number;
  /** Time one health check may take before it counts as failed. */
  healthTimeoutMs: number;
  /** Consecutive failed health checks that make the supervisor restart a running child. */
  healthFailuresBeforeRestart: number;
  /** Time a new child has to pass its first health check. */
  startTimeoutMs: number;
  /** Time between SIGTERM and SIGKILL when a child is stopped. */
  stopGraceMs: number;
}

export const defaultRestartPolicy: Readonly<RestartPolicy> = Object.freeze({
  initialBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  stableAfterMs: 60_000,
  crashLoopFailures: 5,
  crashLoopWindowMs: 120_000,
  healthIntervalMs: 15_000,
  healthTimeoutMs: 2_000,
  healthFailuresBeforeRestart: 3,
  startTimeoutMs: 15_000,
  stopGraceMs: 5_000,
});

/** Returns the delay before restart number `consecutiveFailures` (1 for the first failure). */
export function backoffDelay(consecutiveFailures: number, policy: RestartPolicy): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  return Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(exponent, 30));
}

/** Failure times of one child, kept for the crash-loop window. */
export class FailureHistory {
  #times: number[] = [];

  /** Records a failure at `now` and returns how many failures fall inside the window. */
  record(now: number, windowMs: number): number {
    this.#times = this.#times.filter((time) => now - time < windowMs);
    this.#times.push(now);
    return this.#times.length;
  }
}
