/**
 * A token bucket for `limits.clientCommandsPerSec` (per client) and
 * `limits.userCommandsPerSec` (per user, per worker): `rate` tokens a second, at most `rate`
 * banked (one second of burst). The caller passes the time it already read for the batch
 * (ms, fractional), so a check is arithmetic only.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(public rate: number, now: number) {
    this.tokens = rate;
    this.last = now;
  }

  /** Take one token; false when none is left (the command is refused). */
  take(now: number): boolean {
    if (now > this.last) {
      const t = this.tokens + ((now - this.last) * this.rate) / 1000;
      this.tokens = t > this.rate ? this.rate : t;
      this.last = now;
    }
    if (this.tokens >= 1 - 1e-9) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}
