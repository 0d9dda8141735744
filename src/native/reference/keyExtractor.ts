/**
 * Key positions from the Redis 7 key specs (db.c getKeysUsingKeySpecs): begin_search by index
 * or by keyword (searched from `startFrom`, negative = from the end, the last argument never
 * matching), then find_keys by range (lastKey relative to the start, -1 = last argument, with
 * `limit` dividing the rest) or by keynum (a count argument, then the keys).
 * Deviation on purpose: a keynum of 0 is a valid empty key list (EVAL script 0), as Redis's own
 * getkeys procedures treat it; any other spec that does not fit the arguments makes the whole
 * command "bad keys" (no keys, F_BAD_KEYS) and the backend answers it.
 */
import { BEGIN_INDEX, BEGIN_KEYWORD, FIND_KEYNUM, FIND_RANGE, SLOT_CROSS, SLOT_NONE, SPEC_STRIDE } from '../api';
import type { CompiledCommandTable } from '../api';
import { SlotHasher } from './hash';
import { redisStringToNumber } from './numbers';

function fold(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

export const BAD_KEYS = -1;

export class KeyExtractor {
  private readonly specStart: Int32Array;
  private readonly specCount: Int32Array;
  private readonly specs: Int32Array;
  private readonly keywords: Buffer[];
  /** Per command: the argument index of its only key when it has one fixed-position key (GET,
   * SET, ...), else 0. The common case then skips the spec interpreter. */
  private readonly singleKey: Int32Array;
  /** Common slot of the keys of the last `extract` (SLOT_NONE / SLOT_CROSS). */
  slot = SLOT_NONE;

  constructor(table: CompiledCommandTable, private readonly hasher: SlotHasher) {
    this.specStart = table.specStart;
    this.specCount = table.specCount;
    this.specs = table.specs;
    this.keywords = table.keywords.map((k) => Buffer.from(k.toLowerCase(), 'latin1'));
    this.singleKey = new Int32Array(table.names.length);
    for (let id = 0; id < table.names.length; id++) {
      if (table.specCount[id] !== 1) continue;
      const o = table.specStart[id] * SPEC_STRIDE;
      const s = table.specs;
      if (s[o] === BEGIN_INDEX && s[o + 1] > 0 && s[o + 3] === FIND_RANGE && s[o + 4] === 0) this.singleKey[id] = s[o + 1];
    }
  }

  private argEquals(buf: Uint8Array, args: Int32Array, arg: number, word: Buffer): boolean {
    const off = args[arg * 2];
    const len = args[arg * 2 + 1];
    if (len !== word.length) return false;
    for (let i = 0; i < len; i++) if (fold(buf[off + i]) !== word[i]) return false;
    return true;
  }

  /**
   * Keys of command `id` whose argc arguments are args[argBase..] (pairs into buf). Writes
   * [argBase + position, slot] records at keys[keyBase..] while they fit below keyCap (records)
   * and returns how many keys the command has (possibly more than were written), or BAD_KEYS.
   */
  extract(id: number, buf: Uint8Array, args: Int32Array, argBase: number, argc: number, keys: Int32Array, keyBase: number, keyCap: number): number {
    const single = this.singleKey[id];
    if (single > 0) {
      if (single >= argc) return BAD_KEYS;
      const arg = argBase + single;
      const off = args[arg * 2];
      const slot = this.hasher.slot(buf, off, off + args[arg * 2 + 1]);
      if (keyCap > 0) {
        keys[keyBase * 2] = arg;
        keys[keyBase * 2 + 1] = slot;
      }
      this.slot = slot;
      return 1;
    }
    let count = 0;
    let common = SLOT_NONE;
    const specs = this.specs;
    const firstSpec = this.specStart[id];
    const lastSpec = firstSpec + this.specCount[id];
    for (let s = firstSpec; s < lastSpec; s++) {
      const o = s * SPEC_STRIDE;
      const beginKind = specs[o];
      const findKind = specs[o + 3];
      let first = 0;
      if (beginKind === BEGIN_INDEX) {
        first = specs[o + 1];
      } else if (beginKind === BEGIN_KEYWORD) {
        const startFrom = specs[o + 1];
        const word = this.keywords[specs[o + 2]];
        const startIndex = startFrom > 0 ? startFrom : argc + startFrom;
        const endIndex = startFrom > 0 ? argc - 1 : 0;
        for (let i = startIndex; i !== endIndex; i = startIndex <= endIndex ? i + 1 : i - 1) {
          if (i >= argc || i < 1) break;
          if (this.argEquals(buf, args, argBase + i, word)) {
            first = i + 1;
            break;
          }
        }
        if (first === 0) continue; // keyword absent: this spec has no keys
      } else {
        continue; // a spec the hot path cannot follow (SORT's BY/GET/STORE)
      }

      let last: number;
      let step: number;
      if (findKind === FIND_RANGE) {
        const lastKey = specs[o + 4];
        const limit = specs[o + 6];
        step = specs[o + 5];
        if (lastKey >= 0) last = first + lastKey;
        else if (limit === 0) last = argc + lastKey;
        else last = first + (Math.trunc((argc - first) / limit) + lastKey);
      } else if (findKind === FIND_KEYNUM) {
        const numIdx = first + specs[o + 4];
        if (numIdx >= argc) return BAD_KEYS;
        const off = args[(argBase + numIdx) * 2];
        const numKeys = redisStringToNumber(buf, off, off + args[(argBase + numIdx) * 2 + 1]);
        if (!(numKeys >= 0)) return BAD_KEYS;
        step = specs[o + 6];
        first += specs[o + 5];
        last = first + numKeys - 1;
        if (numKeys === 0) continue;
      } else {
        continue;
      }
      if (last >= argc || last < first || first >= argc || step <= 0) return BAD_KEYS;

      for (let i = first; i <= last; i += step) {
        const arg = argBase + i;
        const off = args[arg * 2];
        const slot = this.hasher.slot(buf, off, off + args[arg * 2 + 1]);
        if (count < keyCap) {
          keys[(keyBase + count) * 2] = arg;
          keys[(keyBase + count) * 2 + 1] = slot;
        }
        count++;
        common = common === SLOT_NONE ? slot : common === slot ? common : SLOT_CROSS;
      }
    }
    this.slot = common;
    return count;
  }
}
