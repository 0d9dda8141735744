/**
 * Big-key detection: requests (a value written) and replies (a value read) of at least
 * `bigKeys.bytes`. The check is one compare per command and per reply; only a big one is
 * recorded. A request names its key (the bytes are there); a reply is known by its command,
 * its key's slot and the client (the request's bytes are gone by the time the reply arrives).
 * The largest `capacity` entries per (key or slot, kind) are kept.
 */
export interface BigKey {
  /** The key (requests), or null when only the slot is known (replies). */
  key: string | null;
  slot: number;
  command: string;
  /** 'request': a value written; 'reply': a value read. */
  kind: 'request' | 'reply';
  bytes: number;
  client: string;
  /** Unix ms of the last sighting. */
  seenAt: number;
  count: number;
}

export class BigKeys {
  private readonly entries = new Map<string, BigKey>();

  constructor(
    public bytes: number,
    private readonly capacity = 128,
    private readonly onBig: (entry: BigKey) => void = () => undefined,
  ) {}

  record(kind: 'request' | 'reply', key: string | null, slot: number, command: string, bytes: number, client: string, now = Date.now()): void {
    const id = `${kind}:${key ?? `slot ${slot}`}:${command}`;
    const known = this.entries.get(id);
    if (known) {
      known.bytes = Math.max(known.bytes, bytes);
      known.seenAt = now;
      known.count++;
      known.client = client;
      return;
    }
    const entry: BigKey = { key, slot, command, kind, bytes, client, seenAt: now, count: 1 };
    this.entries.set(id, entry);
    this.onBig(entry);
    if (this.entries.size > this.capacity) {
      // Drop the smallest.
      let smallest = '';
      let min = Infinity;
      for (const [k, e] of this.entries) if (e.bytes < min) [smallest, min] = [k, e.bytes];
      this.entries.delete(smallest);
    }
  }

  /** Biggest first. */
  list(): BigKey[] {
    return [...this.entries.values()].sort((a, b) => b.bytes - a.bytes);
  }
}

export function mergeBigKeys(lists: readonly BigKey[][]): BigKey[] {
  const byId = new Map<string, BigKey>();
  for (const list of lists) {
    for (const e of list) {
      const id = `${e.kind}:${e.key ?? `slot ${e.slot}`}:${e.command}`;
      const known = byId.get(id);
      if (!known) byId.set(id, { ...e });
      else {
        known.bytes = Math.max(known.bytes, e.bytes);
        known.count += e.count;
        if (e.seenAt > known.seenAt) [known.seenAt, known.client] = [e.seenAt, e.client];
      }
    }
  }
  return [...byId.values()].sort((a, b) => b.bytes - a.bytes);
}
