/**
 * A fleet proxy's workers serve only while their primary's etcd lease is known to be alive:
 * the primary sends a deadline (`fleet-lease`, renewed with every keepalive), and a worker
 * whose deadline passes without a renewal — its primary stalled (SIGSTOP, a long GC pause, a
 * frozen VM) or lost the lease — is fenced until the primary has re-registered, caught up with
 * the topology and sent a new deadline. The other proxies' barrier stops waiting for this one
 * once etcd expires its lease, so ownership may have moved meanwhile: serving from the old
 * table could read or write the old owner (in store mode: a demoted master).
 *
 * What a fenced worker refuses (with -TRYAGAIN) is the primary's `FenceSpec`, sent with the
 * deadline: everything when the primary knows nothing of the fleet's current topology (it
 * stalled, or no peer answers); when it is cut off from etcd alone but a peer told it the
 * current topology, only the slots whose ownership changed, and in store mode every write
 * (src/coordination/CutOff.ts decides which). The Router applies it (Router.setFence).
 *
 * The check is one clock read per socket read (not per command), and only in a fleet: with
 * `deadline === 0` it is one comparison. A deadline of `null` from the primary means "etcd is
 * unreachable for everyone, keep serving the last topology" (no change can be made without etcd).
 */
import type { SlotRange } from '../topology/types';
import { errorReply } from './ErrorReply';

export const FENCED_REPLY = errorReply('TRYAGAIN Kvstore: this proxy lost its place in the fleet (etcd lease expired) and is catching up with the topology; retry shortly or use another proxy');
export const FENCED_SLOT_REPLY = errorReply("TRYAGAIN Kvstore: this proxy is cut off from etcd and this slot's owner changed since; retry shortly or use another proxy");
export const FENCED_WRITE_REPLY = errorReply('TRYAGAIN Kvstore: this proxy is cut off from etcd and takes no writes in store mode until it is back in the fleet; retry shortly or use another proxy');

/** What a fenced worker refuses: every command, or the commands on `slots` (and every write when `writes`). */
export type FenceSpec = { all: true } | { all: false; slots: SlotRange[]; writes: boolean };

export const FENCE_ALL: FenceSpec = { all: true };

export class LeaseFence {
  /** ms since the epoch after which the worker must stop serving; 0 = no deadline. */
  deadline = 0;
  fenced = false;
  /** What is refused once the deadline passes. */
  private spec: FenceSpec = FENCE_ALL;

  constructor(private readonly apply: (spec: FenceSpec | null) => void) {}

  /** From the primary: a new deadline, or null (no deadline: serve the last topology), and what to refuse past it. */
  renew(validUntil: number | null, spec: FenceSpec = FENCE_ALL): void {
    const changed = JSON.stringify(spec) !== JSON.stringify(this.spec);
    this.spec = spec;
    this.deadline = validUntil === null ? 0 : validUntil;
    if (validUntil !== null && Date.now() > validUntil) {
      if (changed && this.fenced) this.apply(spec); // fenced already: what is refused changed
      this.trip();
    } else if (this.fenced) {
      this.fenced = false;
      this.apply(null);
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
    this.apply(this.spec);
  }
}
