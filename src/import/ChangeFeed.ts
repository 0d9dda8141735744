/**
 * The live phase's view of the source: keyspace notifications (`__keyspace@0__:<key>`, enabled
 * with CONFIG SET notify-keyspace-events) collected into a set of changed keys.
 *
 * Why notifications and not the replication stream: reading PSYNC means parsing a full RDB and
 * replaying every command type; a notification only says "this key changed", and the job then
 * copies the key's *current* value from the source. That makes lost ordering harmless (the last
 * copy always reads the latest value) and deletions simple (a missing key is deleted). What it
 * cannot survive is a lost notification (they are fire-and-forget): the feed reports a dropped
 * subscription with `onLost`, and the job then runs a refresh pass over the whole source.
 *
 * Each key is pending at most once (a Map keeps the first time it was seen, so the oldest entry
 * gives the lag); a key changed again while its copy runs is pending again and copied again.
 */
import type { RespClient } from '../resp';

const CHANNEL_PREFIX = Buffer.from('__keyspace@0__:');

export class ChangeFeed {
  /** latin1 string of the key bytes → when it was first seen changed (ms). */
  private readonly dirty = new Map<string, number>();
  /** Notifications received (for stats). */
  received = 0;

  constructor(private readonly subscriber: RespClient) {}

  /** Subscribe to the changes of keys matching `match` (a SCAN-style glob). */
  async start(match: string, onLost: (err: Error) => void): Promise<void> {
    this.subscriber.once('close', onLost);
    await this.subscriber.psubscribe(Buffer.concat([CHANNEL_PREFIX, Buffer.from(match)]), (channel) => {
      if (channel.length < CHANNEL_PREFIX.length || !channel.subarray(0, CHANNEL_PREFIX.length).equals(CHANNEL_PREFIX)) return;
      this.received++;
      const key = channel.toString('latin1', CHANNEL_PREFIX.length);
      if (!this.dirty.has(key)) this.dirty.set(key, Date.now());
    });
  }

  /**
   * Resolves once every notification the source queued before this call has arrived: the PING
   * reply comes on the same connection, after them.
   */
  async barrier(): Promise<void> {
    await this.subscriber.command(['PING']);
  }

  get pending(): number {
    return this.dirty.size;
  }

  /** Age of the oldest pending change (ms). */
  lagMs(now = Date.now()): number {
    for (const first of this.dirty.values()) return Math.max(0, now - first);
    return 0;
  }

  /** Take up to `n` pending keys, oldest first, except those `busy` says are being copied. */
  take(n: number, busy: (key: string) => boolean): Buffer[] {
    const out: Buffer[] = [];
    for (const key of this.dirty.keys()) {
      if (out.length >= n) break;
      if (busy(key)) continue;
      this.dirty.delete(key);
      out.push(Buffer.from(key, 'latin1'));
    }
    return out;
  }

  /** Pending again (a copy failed, or the subscription was replaced). */
  requeue(key: Buffer): void {
    const k = key.toString('latin1');
    if (!this.dirty.has(k)) this.dirty.set(k, Date.now());
  }

  close(): void {
    this.subscriber.removeAllListeners('close');
    this.subscriber.close();
  }
}
