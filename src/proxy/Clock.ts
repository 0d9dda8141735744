/**
 * Time as the data path sees it: injected into client and backend connections so that timeouts,
 * backoff and idle closes can be driven by a fake clock in unit tests (test/helpers/fakeIo.ts).
 */
import { turnNow } from './FlushScheduler';

/** An opaque timer handle of one Clock. */
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

export interface Clock {
  /** Milliseconds since the epoch (within a read batch: the batch's time, read once). */
  now(): number;
  /** Timers never keep the process alive on their own. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearTimer(timer: TimerHandle): void;
}

/** The real clock: Date.now (cached per read batch) and Node's timers, unref'ed. */
export const systemClock: Clock = {
  now: turnNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};
