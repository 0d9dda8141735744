/**
 * Where a rewritten key is stored. A key K whose effective generation is G (see KeyRewriter) is
 * stored under
 *
 *     RESERVED_PREFIX  G  '{'  T  '}'  K          e.g. "\xffkr:57{Ab}user:1"
 *
 * - RESERVED_PREFIX is the 4 bytes 0xFF 'k' 'r' ':'. No plain user key may start with it: while
 *   rules are active the proxy refuses such keys (see KeyRewriter.reservedError), so a derived
 *   name never equals a plain key. It contains no '{', '}', '*', '?', '[' or '\'.
 * - G is the generation in decimal (no leading zeros), so names of different generations differ.
 * - T is the "slot tag": a short printable string, fixed per slot, whose hash is that slot. As
 *   the prefix and G contain no '{', the first '{' of the name is ours and the first '}' after
 *   it closes T (T has no '}'), so the name hashes exactly as T does, i.e. to slot(K): keys that
 *   shared a slot (hash tag or not) still share it, under crc16 and murmur alike.
 * - K follows verbatim, last, so decoding is a prefix parse and a glob `PREFIX*pattern` matches
 *   every derived name whose K matches `pattern` (used for KEYS).
 *
 * The tag table is built deterministically from the configured slot function (same table in
 * every process) and checked slot by slot when built, so the slot equality is verified, not
 * assumed.
 */
import { SLOT_COUNT } from '../topology/types';

export const RESERVED_PREFIX = Buffer.from([0xff, 0x6b, 0x72, 0x3a]); // "\xffkr:"
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

/** Printable, glob-neutral bytes for tags (no braces, no `*?[\`). */
const TAG_ALPHABET = Buffer.from('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_');

export type SlotFunction = (key: Buffer) => number;

export class SlotTagTable {
  /** tags[slot]: the tag bytes for that slot. */
  readonly tags: Buffer[];

  private constructor(tags: Buffer[]) {
    this.tags = tags;
  }

  /**
   * Enumerate tags in a fixed order (length 1, 2, 3, ... over TAG_ALPHABET) and keep the first
   * one found for every slot. Deterministic, so every worker and the primary derive the same
   * names. Verifies each tag against `slotOf` (with braces around it, as it is used).
   */
  static build(slotOf: SlotFunction): SlotTagTable {
    const steps = SlotTagTable.steps(slotOf);
    let r = steps.next();
    while (!r.done) r = steps.next();
    return r.value;
  }

  /** The same table, built in slices between other work (a worker warms it up at start). */
  static async buildInBackground(slotOf: SlotFunction): Promise<SlotTagTable> {
    const steps = SlotTagTable.steps(slotOf);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** The build as a generator that yields every few thousand hashes. */
  static *steps(slotOf: SlotFunction): Generator<void, SlotTagTable, void> {
    const tags: (Buffer | undefined)[] = new Array(SLOT_COUNT);
    let missing = SLOT_COUNT;
    const n = TAG_ALPHABET.length;
    let work = 0;
    for (let len = 1; missing > 0 && len <= 5; len++) {
      const digits = new Array<number>(len).fill(0);
      const candidate = Buffer.alloc(len);
      for (;;) {
        for (let i = 0; i < len; i++) candidate[i] = TAG_ALPHABET[digits[i]];
        const slot = slotOf(candidate);
        if (tags[slot] === undefined) {
          tags[slot] = Buffer.from(candidate);
          if (--missing === 0) break;
        }
        let i = len - 1;
        while (i >= 0 && ++digits[i] === n) digits[i--] = 0;
        if (i < 0) break;
        if (++work % 8192 === 0) yield;
      }
    }
    if (missing > 0) throw new Error(`slot tag table: ${missing} slots have no tag of up to 5 characters`);
    const table = tags as Buffer[];
    const wrapped = Buffer.alloc(8);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const tag = table[slot];
      const w = wrapped.length >= tag.length + 4 ? wrapped.subarray(0, tag.length + 4) : Buffer.alloc(tag.length + 4);
      w[0] = 0x78; // x
      w[1] = OPEN;
      tag.copy(w, 2);
      w[tag.length + 2] = CLOSE;
      w[tag.length + 3] = 0x79; // y
      if (slotOf(w) !== slot) throw new Error(`slot tag table: tag for slot ${slot} does not hash to it inside braces`);
      if (slot % 8192 === 8191) yield;
    }
    return new SlotTagTable(table);
  }
}

/** The derived name of `key` (bytes `key[start, end)`) for generation `generation` in `slot`. */
export function deriveName(key: Buffer, generation: number, slot: number, table: SlotTagTable, start = 0, end = key.length): Buffer {
  const gen = String(generation);
  const tag = table.tags[slot];
  const out = Buffer.allocUnsafe(RESERVED_PREFIX.length + gen.length + 2 + tag.length + (end - start));
  let o = RESERVED_PREFIX.copy(out, 0);
  o += out.write(gen, o, 'latin1');
  out[o++] = OPEN;
  o += tag.copy(out, o);
  out[o++] = CLOSE;
  key.copy(out, o, start, end);
  return out;
}

export function hasReservedPrefix(key: Buffer, start = 0, end = key.length): boolean {
  if (end - start < RESERVED_PREFIX.length) return false;
  for (let i = 0; i < RESERVED_PREFIX.length; i++) if (key[start + i] !== RESERVED_PREFIX[i]) return false;
  return true;
}

export interface DecodedName {
  generation: number;
  /** The slot tag (a view into the stored name). */
  tag: Buffer;
  /** The original key (a view into the stored name). */
  key: Buffer;
}

/** Parse a stored name; null when it is not a well-formed derived name. */
export function decodeName(stored: Buffer): DecodedName | null {
  if (!hasReservedPrefix(stored)) return null;
  let i = RESERVED_PREFIX.length;
  let generation = 0;
  const digitsStart = i;
  while (i < stored.length && stored[i] >= 0x30 && stored[i] <= 0x39) {
    generation = generation * 10 + (stored[i] - 0x30);
    i++;
  }
  const digits = i - digitsStart;
  if (digits === 0 || digits > 15 || (digits > 1 && stored[digitsStart] === 0x30)) return null;
  if (stored[i] !== OPEN) return null;
  const close = stored.indexOf(CLOSE, i + 1);
  if (close < 0 || close === i + 1) return null;
  return { generation, tag: stored.subarray(i + 1, close), key: stored.subarray(close + 1) };
}
