/**
 * The worker's view of the key-rewrite rules: which keys are rewritten, to what name, and how
 * names read back from Redis (SCAN, KEYS, RANDOMKEY) map to what clients may see.
 *
 * Semantics. A key's effective generation is the highest generation among the active rules whose
 * pattern matches it (0 = no rule matches: the key is stored under its own name). Every `add`
 * gives its rule a generation higher than all earlier ones (the topology epoch of the change), so
 * - add (or add again) of a pattern moves every matching key to a new name: the family is dropped;
 * - remove restores exactly the names the remaining rules dictate: if no other rule matches, the
 *   plain keys (with their old values) are visible again.
 * A stored name is visible iff it is the current name of its original key; so for any original
 * key at most one stored name is visible, and it is reported under the original name.
 */
import type { KeyRewriteRule } from '../topology/types';
import { decodeName, deriveName, hasReservedPrefix, RESERVED_PREFIX, SlotFunction, SlotTagTable } from './derivedName';
import { globMatch, literalPrefix, literalSuffix } from './glob';

interface CompiledRule {
  pattern: Buffer;
  prefix: Buffer;
  suffix: Buffer;
  /** No special bytes at all: the key must equal the pattern. */
  literal: boolean;
  generation: number;
}

export const RESERVED_KEY_ERROR = `-ERR keys starting with the reserved key-rewrite prefix \\xffkr: are not allowed`;

export class KeyRewriter {
  /** Highest generation first, so the first matching rule gives the effective generation. */
  private readonly rules: CompiledRule[];
  private table: SlotTagTable | undefined;

  constructor(
    rules: readonly KeyRewriteRule[],
    private readonly slotOf: SlotFunction,
    table?: SlotTagTable,
  ) {
    this.rules = rules
      .map((r) => {
        const pattern = Buffer.from(r.pattern, 'utf8');
        const prefix = literalPrefix(pattern);
        return { pattern, prefix, suffix: literalSuffix(pattern), literal: prefix.length === pattern.length, generation: r.generation };
      })
      .sort((a, b) => b.generation - a.generation);
    this.table = table;
  }

  /** False when no rule is active (only the reserved-prefix check then applies to client keys). */
  get active(): boolean {
    return this.rules.length > 0;
  }

  /** The slot tag table, built on first use (or passed in to share between rewriters). */
  tagTable(): SlotTagTable {
    if (!this.table) this.table = SlotTagTable.build(this.slotOf);
    return this.table;
  }

  /** Effective generation of the key `buf[start, end)`; 0 when no rule matches. */
  generationOf(buf: Buffer, start = 0, end = buf.length): number {
    const len = end - start;
    const rules = this.rules;
    outer: for (let r = 0; r < rules.length; r++) {
      const rule = rules[r];
      const pre = rule.prefix;
      const n = pre.length;
      if (n > len) continue;
      // A JS loop: cheaper than Buffer#compare's native call for the few bytes of a prefix.
      for (let i = 0; i < n; i++) if (buf[start + i] !== pre[i]) continue outer;
      if (rule.literal) {
        if (n === len) return rule.generation;
        continue;
      }
      const suf = rule.suffix;
      const m = suf.length;
      if (n + m > len) continue;
      for (let i = 1; i <= m; i++) if (buf[end - i] !== suf[m - i]) continue outer;
      if (globMatch(rule.pattern, buf, start, len)) return rule.generation;
    }
    return 0;
  }

  /** Does any key need work: a match (to rewrite) or a reserved name (to refuse)? */
  needsRewrite(buf: Buffer, start = 0, end = buf.length): boolean {
    return hasReservedPrefix(buf, start, end) || this.generationOf(buf, start, end) > 0;
  }

  /**
   * True when the key uses the reserved prefix and must be refused: always, also with no rules,
   * so a client can never plant a name that a later rule would reveal as someone else's key.
   */
  isReserved(buf: Buffer, start = 0, end = buf.length): boolean {
    return hasReservedPrefix(buf, start, end);
  }

  /**
   * The name to store `buf[start, end)` under: the derived name when a rule matches, else null
   * (use the key as it is). `slot` is the key's slot when the caller already has it.
   */
  rewrite(buf: Buffer, start = 0, end = buf.length, slot?: number): Buffer | null {
    const generation = this.generationOf(buf, start, end);
    if (generation === 0) return null;
    const s = slot ?? this.slotOf(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
    return deriveName(buf, generation, s, this.tagTable(), start, end);
  }

  /**
   * A name read back from Redis → the name the client sees, or null when it must stay hidden
   * (a dropped plain key, a derived name of a dead generation). Works with no rules too: derived
   * names left by removed rules are dead and hidden.
   */
  reveal(stored: Buffer): Buffer | null {
    if (stored.length >= RESERVED_PREFIX.length && stored[0] === RESERVED_PREFIX[0]) {
      const decoded = decodeName(stored);
      if (decoded) {
        if (this.generationOf(decoded.key) !== decoded.generation) return null;
        // Only the exact name we would write is visible (a hand-made look-alike stays hidden).
        return decoded.tag.equals(this.tagTable().tags[this.slotOf(decoded.key)]) ? decoded.key : null;
      }
    }
    return this.generationOf(stored) === 0 ? stored : null;
  }

  /** Is this stored name dead (safe for the reclaim job to unlink)? */
  isDead(stored: Buffer): boolean {
    return this.reveal(stored) === null;
  }

  /**
   * Names read back from the backends (possibly overlapping lists) → the visible original names,
   * each once, optionally filtered by the client's glob `pattern` (as KEYS / SCAN MATCH would).
   */
  visibleNames(stored: Iterable<Buffer>, pattern?: Buffer): Buffer[] {
    const seen = new Set<string>();
    const out: Buffer[] = [];
    for (const name of stored) {
      const original = this.reveal(name);
      if (!original) continue;
      if (pattern && !globMatch(pattern, original)) continue;
      const id = original.toString('latin1');
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(original);
    }
    return out;
  }

  /** Patterns to send to the backends for `KEYS pattern`: plain keys, and the derived superset. */
  backendKeysPatterns(pattern: Buffer): Buffer[] {
    if (pattern.length === 1 && pattern[0] === 0x2a) return [pattern]; // "*" already has them all
    return [pattern, Buffer.concat([RESERVED_PREFIX, Buffer.from('*'), pattern])];
  }
}
