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
 * When the deadline passes and everything would be refused, commands are first held (`holdMs`,
 * like CLIENT PAUSE: the client's reading stops at the command): the primary may be deciding
 * right then that etcd is down for everyone (src/coordination/Fleet.ts), and then nothing is
 * refused at all; if no word comes in time, the fence applies and the held commands meet it.
 *
 * The check is one clock read per socket read (not per command), and only in a fleet: with
 * `deadline === 0` it is one comparison; the dispatcher reads `gate` per command (0 but while
 * holding or refusing writes). A deadline of `null` from the primary means "etcd is unreachable
 * for everyone, keep serving the last topology" (no change can be made without etcd).
 */
import type { SlotRange } from '../topology/types';
import { errorReply } from './ErrorReply';

export const FENCED_REPLY = errorReply('TRYAGAIN Kvstore: this proxy lost its place in the fleet (etcd lease expired) and is catching up with the topology; retry shortly or use another proxy');
export const FENCED_SLOT_REPLY = errorReply("TRYAGAIN Kvstore: this proxy is cut off from etcd and this slot's owner changed since; retry shortly or use another proxy");
export const FENCED_WRITE_REPLY = errorReply('TRYAGAIN Kvstore: this proxy is cut off from etcd and takes no writes in store mode until it is back in the fleet; retry shortly or use another proxy');

/** What a fenced worker refuses: every command, or the commands on `slots` (and every write when `writes`). */
export type FenceSpec = { all: true } | { all: false; slots: SlotRange[]; writes: boolean };

export const FENCE_ALL: FenceSpec = { all: true };

/** Past the deadline, commands wait this long for the primary's word before the fence applies. */
export const FENCE_HOLD_MS = 1500;

/** `gate` bits: commands are held (waiting for the primary past the deadline); writes are refused (store mode). */
export const GATE_HOLD = 1;
export const GATE_WRITES = 2;

/** A client whose reading stopped at a held command (ClientConnection). */
export interface FenceHeldClient {
  resumeAfterPause(): void;
}

export class LeaseFence {
  /** ms since the epoch after which the worker must stop serving; 0 = no deadline. */
  deadline = 0;
  fenced = false;
  /** GATE_* bits, read by the dispatcher per command. */
  gate = 0;
  /** What is refused once the deadline passes. */
  private spec: FenceSpec = FENCE_ALL;
  private held = new Set<FenceHeldClient>();
  private holdTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly apply: (spec: FenceSpec | null) => void,
    /** How long commands are held past the deadline before the fence applies (0: at once). */
    private readonly holdMs = 0,
  ) {}

  /** From the primary: a new deadline, or null (no deadline: serve the last topology), and what to refuse past it. */
  renew(validUntil: number | null, spec: FenceSpec = FENCE_ALL): void {
    const changed = JSON.stringify(spec) !== JSON.stringify(this.spec);
    this.spec = spec;
    this.deadline = validUntil === null ? 0 : validUntil;
    if (validUntil !== null && Date.now() > validUntil) {
      if (changed && this.fenced) this.fence(); // fenced already: what is refused changed
      this.trip();
    } else if (this.fenced) {
      this.fenced = false;
      this.gate &= ~GATE_WRITES;
      this.apply(null);
    }
    this.release(); // the word came: held commands go on (served, or refused by the fence)
  }

  /** Called on each socket read when a deadline is set. */
  check(): void {
    if (Date.now() <= this.deadline) return;
    // (a partial fence is the primary's decision already: nothing to wait for)
    if (this.holdMs > 0 && !this.fenced && this.spec.all) {
      this.deadline = 0; // no more clock reads: the hold's timer decides
      this.gate |= GATE_HOLD;
      this.holdTimer ??= setTimeout(() => {
        this.holdTimer = null;
        this.trip();
        this.release();
      }, this.holdMs);
      return;
    }
    this.trip();
  }

  /** The dispatcher, for a command while `gate` is set: true when it held or answered it. */
  stops(client: FenceHeldClient & { holdForFence(): void }, pausable: boolean): boolean {
    if ((this.gate & GATE_HOLD) === 0 || !pausable) return false;
    this.held.add(client);
    client.holdForFence();
    return true;
  }

  private trip(): void {
    this.deadline = 0; // stays fenced until renew()
    if (this.fenced) return;
    this.fenced = true;
    this.fence();
  }

  private fence(): void {
    if (this.spec.all || !this.spec.writes) this.gate &= ~GATE_WRITES;
    else this.gate |= GATE_WRITES;
    this.apply(this.spec);
  }

  private release(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    if ((this.gate & GATE_HOLD) === 0) return;
    this.gate &= ~GATE_HOLD;
    const held = [...this.held];
    this.held.clear();
    for (const c of held) c.resumeAfterPause();
  }
}
