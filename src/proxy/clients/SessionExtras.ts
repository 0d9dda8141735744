/**
 * The per-client state most clients never set: CLIENT SETNAME / HELLO, READONLY, CLIENT
 * NO-EVICT / NO-TOUCH, rate-limit buckets, a transaction or blocking session, pub/sub
 * subscriptions, the key-rewrite slow path's flag, and the written-shards set above the first 30
 * shards. A ClientConnection makes this
 * object on the first change from the defaults and reads the defaults without it, so an idle
 * client that only ever sent GET/SET holds no fields for any of this (8 bytes: the null
 * reference). Every field is initialised here, in one order, so all instances share one hidden
 * class.
 */
import type { TokenBucket } from '../../observability/TokenBucket';
import type { DedicatedSession } from '../dedicated/DedicatedSession';
import type { ClientSubscriptions } from '../pubsub/PubSubHub';

export class SessionExtras {
  name = '';
  proto: 2 | 3 = 2;
  readOnly = false;
  /** CLIENT NO-EVICT / CLIENT NO-TOUCH. */
  noEvict = false;
  noTouch = false;
  /** The key-rewrite slow path is re-encoding this client's command (SlowPath). */
  rewriting = false;
  /** limits.clientCommandsPerSec: this client's bucket; limits.userCommandsPerSec: its user's. */
  bucket: TokenBucket | null = null;
  userBucket: TokenBucket | null = null;
  /** Transaction / blocking / WAIT state (src/proxy/dedicated/). */
  session: DedicatedSession | null = null;
  /** Pub/sub subscriptions (src/proxy/pubsub/). */
  pubsub: ClientSubscriptions | null = null;
  /** Shards ≥ WROTE_BITS written since the last WAIT (1 = written); the lower ones are a bit mask on the connection. */
  wroteHigh: Uint8Array | null = null;
}

/** Shards whose writes are noted as bits of one small integer on the connection (a Smi: 30 bits). */
export const WROTE_BITS = 30;
