/**
 * Key rewrite inside a worker: turns the topology's rules into the proxy's two seams
 * (src/proxy/Hooks.ts).
 * - hooks.keyRewrite is always installed: the fast path tests each key's raw bytes
 *   (`needsRewrite`: the reserved prefix `\xffkr:`, then per rule a literal-prefix compare and the
 *   glob; with no rules only the prefix, a few ns a key) and only a command with a matching or
 *   reserved key takes the slow path, where `rewrite` replaces the key arguments by their derived
 *   names or refuses a reserved one. Refusing reserved names even with no rules is what makes a
 *   derived name impossible to forge from a plain client key.
 * - hooks.keyNames is always installed: SCAN, KEYS and RANDOMKEY map stored names back to the
 *   names clients used and hide dead ones.
 * Rules are replaced whole on each topology push, synchronously, before the worker acks the
 * epoch: a request parsed after the ack already uses the new generation.
 */
import type { KeyNameView, KeyRewriteHook, ProxyHooks, SlowCommand } from '../proxy/Hooks';
import type { KeyRewriteRule } from '../topology/types';
import { createLogger } from '../log';
import { SlotHasher } from '../native/reference/hash';
import { RESERVED_PREFIX, SlotFunction, SlotTagTable } from './derivedName';
import { KeyRewriter, RESERVED_KEY_ERROR } from './KeyRewriter';
import { replyEnd } from '../resp';

const log = createLogger('keyrewrite');
/** Slot tag tables per hash configuration, built once per process. */
const tables = new Map<string, SlotTagTable>();
const warming = new Set<string>();
const RESERVED_REPLY = Buffer.from(`${RESERVED_KEY_ERROR}\r\n`);

/** Commands whose replies carry key names: where, so they can be mapped back. */
const KEY_NAME_REPLIES: Record<string, 'first' | 'firstOfEach'> = {
  lmpop: 'first', // [key, [elements]] or nil
  zmpop: 'first', // [key, [[member, score]...]] or nil
  xread: 'firstOfEach', // [[key, entries], ...] or nil
  xreadgroup: 'firstOfEach',
  // blocking pops (dedicated connections): [key, element], [key, member, score], [key, [...]]
  blpop: 'first',
  brpop: 'first',
  bzpopmin: 'first',
  bzpopmax: 'first',
  blmpop: 'first',
  bzmpop: 'first',
};

function sameRules(a: readonly KeyRewriteRule[], b: readonly KeyRewriteRule[]): boolean {
  return a.length === b.length && a.every((r, i) => r.pattern === b[i].pattern && r.generation === b[i].generation);
}

export class WorkerKeyRewrite implements KeyRewriteHook, KeyNameView {
  private rewriter: KeyRewriter;
  private rules: readonly KeyRewriteRule[] = [];
  private table: SlotTagTable | undefined;

  constructor(
    private readonly slotOf: SlotFunction,
    private readonly tableId?: string,
  ) {
    this.rewriter = new KeyRewriter([], slotOf);
  }

  /** For the cluster's hash configuration (the same slots the router uses). */
  static forHash(hash: 'crc16' | 'murmur', murmurSeed: number): WorkerKeyRewrite {
    const hasher = new SlotHasher();
    hasher.configure(hash, murmurSeed);
    return new WorkerKeyRewrite((key) => hasher.slot(key, 0, key.length), `${hash}:${hash === 'murmur' ? murmurSeed | 0 : 0}`);
  }

  /**
   * Build the slot tag table in the background (slices between client work), so the first rule
   * to arrive does not stall this worker's clients for the build (~0.1 s of CPU).
   */
  warmUp(): void {
    const id = this.tableId;
    if (!id || tables.has(id) || warming.has(id)) return;
    warming.add(id);
    SlotTagTable.buildInBackground(this.slotOf).then(
      (table) => {
        if (!tables.has(id)) tables.set(id, table);
        warming.delete(id);
      },
      (err) => log.error({ err }, 'slot tag table build failed'),
    );
  }

  /** Install the rules of a topology snapshot into `hooks`. */
  apply(rules: readonly KeyRewriteRule[] | undefined, hooks: ProxyHooks): void {
    const next = rules ?? [];
    hooks.keyNames = this;
    if (!sameRules(next, this.rules)) {
      // Build the slot tag table now (once per process), not on a client's request.
      if (next.length > 0 && !this.table) {
        this.table = this.tableId ? tables.get(this.tableId) : undefined;
        if (!this.table) {
          const began = Date.now();
          this.table = SlotTagTable.build(this.slotOf);
          if (this.tableId) tables.set(this.tableId, this.table);
          log.debug({ ms: Date.now() - began }, 'slot tag table built');
        }
      }
      this.rewriter = new KeyRewriter(next, this.slotOf, this.table);
      this.rules = next.map((r) => ({ ...r }));
      log.info({ rules: next }, 'key-rewrite rules applied');
    }
    hooks.keyRewrite = this;
  }

  get active(): boolean {
    return this.rewriter.active;
  }

  /* ---------- KeyRewriteHook ---------- */

  needsRewrite(buf: Buffer, start: number, end: number): boolean {
    return this.rewriter.needsRewrite(buf, start, end);
  }

  rewrite(command: SlowCommand): { args: Buffer[]; mapReply?: (reply: Buffer) => Buffer } | Buffer | null {
    const rw = this.rewriter;
    let args: Buffer[] | null = null;
    let originals: Map<string, Buffer> | null = null;
    for (let k = 0; k < command.keyIndexes.length; k++) {
      const index = command.keyIndexes[k];
      const key = command.args[index];
      if (rw.isReserved(key)) return RESERVED_REPLY;
      const derived = rw.rewrite(key, 0, key.length, command.keySlots[k]);
      if (!derived) continue;
      if (!args) args = command.args.slice();
      args[index] = derived;
      (originals ??= new Map()).set(derived.toString('latin1'), key);
    }
    if (!args) return null;
    const where = KEY_NAME_REPLIES[command.name];
    if (!where || !originals) return { args };
    const names = originals;
    return { args, mapReply: (reply) => mapKeyNames(reply, where, names) };
  }

  /* ---------- KeyNameView ---------- */

  reveal(stored: Buffer): Buffer | null {
    return this.rewriter.reveal(stored);
  }

  visibleNames(stored: Iterable<Buffer>, pattern?: Buffer): Buffer[] {
    return this.rewriter.visibleNames(stored, pattern);
  }

  mayHoldDerived(reply: Buffer): boolean {
    return reply.includes(RESERVED_PREFIX);
  }

  backendKeysPatterns(pattern: Buffer): Buffer[] {
    return this.rewriter.backendKeysPatterns(pattern);
  }
}

/* ---------- replies that carry key names (RESP2) ---------- */

/** Replace the bulk string at `pos` when it is one of our derived names; returns [parts, end]. */
function mapBulkAt(buf: Buffer, pos: number, names: Map<string, Buffer>): [Buffer, number] {
  const end = replyEnd(buf, pos);
  if (buf[pos] !== 0x24) return [buf.subarray(pos, end), end];
  const bodyStart = buf.indexOf('\r\n', pos) + 2;
  const original = names.get(buf.toString('latin1', bodyStart, end - 2));
  if (!original) return [buf.subarray(pos, end), end];
  return [Buffer.concat([Buffer.from(`$${original.length}\r\n`), original, Buffer.from('\r\n')]), end];
}

function arrayHeader(buf: Buffer, pos: number): [number, number] {
  const eol = buf.indexOf('\r\n', pos);
  return [Number(buf.toString('latin1', pos + 1, eol)), eol + 2];
}

export function mapKeyNames(reply: Buffer, where: 'first' | 'firstOfEach', names: Map<string, Buffer>): Buffer {
  if (reply[0] !== 0x2a) return reply; // nil, error
  const [n, first] = arrayHeader(reply, 0);
  if (n <= 0) return reply;
  const parts: Buffer[] = [reply.subarray(0, first)];
  let p = first;
  if (where === 'first') {
    const [mapped, end] = mapBulkAt(reply, p, names);
    parts.push(mapped, reply.subarray(end));
    return Buffer.concat(parts);
  }
  for (let i = 0; i < n; i++) {
    if (reply[p] !== 0x2a) {
      const end = replyEnd(reply, p);
      parts.push(reply.subarray(p, end));
      p = end;
      continue;
    }
    const [m, inner] = arrayHeader(reply, p);
    parts.push(reply.subarray(p, inner));
    if (m <= 0) {
      p = inner;
      continue;
    }
    const [mapped, keyEnd] = mapBulkAt(reply, inner, names);
    parts.push(mapped);
    const end = replyEnd(reply, p);
    parts.push(reply.subarray(keyEnd, end));
    p = end;
  }
  parts.push(reply.subarray(p));
  return Buffer.concat(parts);
}
