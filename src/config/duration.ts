/** @module Durations written as `90d`, `12h`, `30m`, `45s`, `1h30m` or a plain number of milliseconds. */

const unitMs: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

const part = /(\d+)(ms|s|m|h|d|w|y)/gy;

/**
 * Parses a duration into milliseconds. A bare integer is taken as milliseconds, the unit JAMS
 * uses for its lifetimes. Returns undefined for anything else, including zero.
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (/^\d+$/.test(value)) {
    const ms = Number(value);
    return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
  }
  part.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let match = part.exec(value); match; match = part.exec(value)) {
    total += Number(match[1]) * (unitMs[match[2]!] ?? 0);
    end = part.lastIndex;
  }
  if (end === 0 || end !== value.length || total <= 0 || !Number.isSafeInteger(total)) {
    return undefined;
  }
  return total;
}

/** Formats milliseconds with the largest unit that divides them exactly, for logs and help. */
export function formatDuration(ms: number): string {
  for (const unit of ["y", "w", "d", "h", "m", "s"]) {
    const size = unitMs[unit]!;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
