/**
 * A fleet proxy's workers serve only while their primary's etcd lease is known to be alive:
 * the primary sends a deadline (`fleet-lease`, renewed with every keepalive), and a worker
 * whose deadline passes without a renewal — its primary stalled (SIGSTOP, a long GC pause, a
 * frozen VM) or lost the lease — answers every command that would reach a shard with
 * `-TRYAGAIN` until the primary has re-registered, caught up with the topology and sent a new
 * deadline. The other proxies' barrier stops waiting for this one once etcd expires its lease,
 * so ownership may have moved meanwhile: serving from the old table could read or write the
 * old owner (in store mode: a demoted master).
 *
 * The check is one clock read per socket read (not per command), and only in a fleet: with
 * `deadline === 0` it is one comparison. A deadline of `null` from the primary means "etcd is
 * unreachable for everyone, keep serving the last topology" (no change can be made without etcd).
 */
import { errorReply } from './ErrorReply';

export const FENCED_REPLY = errorReply('TRYAGAIN Kvstore: this proxy lost its place in the fleet (etcd lease expired) and is catching up with the topology; retry shortly or use another proxy');

export class LeaseFence {
  /** ms since the epoch after which the worker must stop serving; 0 = no deadline. */
  deadline = 0;
  fenced = false;

  constructor(private readonly setReply: (reply: Buffer | null) => void) {}

  /** From the primary: a new deadline, or null (no deadline: serve the last topology). */
  renew(validUntil: number | null): void {
    this.deadline = validUntil === null ? 0 : validUntil;
    if (validUntil !== null && Date.now() > validUntil) this.trip();
    else if (this.fenced) {
      this.fenced = false;
      this.setReply(null);
    }
  }

  /** Called on each socket read when a deadline is set. */
  check(): void {
    if (Date.now() > this.deadline) this.trip();
  }

  private trip(): void {
    this.deadline = 0; // stays fenced until renew()
    if (this.fenced) return;
    this.fenced = true;
    this.setReply(FENCED_REPLY);
  }
}
