/**
 * Command-name → id lookup straight from the request bytes: an open-addressing hash table over
 * the lowercase names, probed with an ASCII-case-folded hash of the argument, so no string is
 * made per command. Subcommands (`object|encoding`) get one small table per container.
 */
import type { CompiledCommandTable } from '../api';

function fold(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

function hashFolded(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ fold(buf[i]), 0x01000193);
  return h; // int32 on purpose: callers mask it, and a uint32 would leave the small-integer range
}

/** Case-insensitive name set: ids by name, names stored lowercase in one byte array. */
export class NameIndex {
  private readonly slots: Int32Array; // entry number + 1, 0 = empty
  private readonly mask: number;
  private readonly ids: Int32Array;
  private readonly nameStart: Int32Array;
  private readonly nameEnd: Int32Array;
  private readonly bytes: Buffer;

  constructor(entries: Array<{ name: string; id: number }>) {
    let size = 8;
    while (size < entries.length * 2) size <<= 1;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    this.ids = new Int32Array(entries.length);
    this.nameStart = new Int32Array(entries.length);
    this.nameEnd = new Int32Array(entries.length);
    const encoded = entries.map((e) => Buffer.from(e.name.toLowerCase(), 'latin1'));
    this.bytes = Buffer.concat(encoded);
    let offset = 0;
    entries.forEach((e, n) => {
      this.ids[n] = e.id;
      this.nameStart[n] = offset;
      offset += encoded[n].length;
      this.nameEnd[n] = offset;
      let slot = hashFolded(this.bytes, this.nameStart[n], offset) & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = n + 1;
    });
  }

  /** Id of the name in buf[start, end) (any case), or -1. */
  find(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    let slot = hashFolded(buf, start, end) & this.mask;
    for (;;) {
      const entry = this.slots[slot] - 1;
      if (entry < 0) return -1;
      const ns = this.nameStart[entry];
      if (this.nameEnd[entry] - ns === len) {
        let i = 0;
        while (i < len && fold(buf[start + i]) === this.bytes[ns + i]) i++;
        if (i === len) return this.ids[entry];
      }
      slot = (slot + 1) & this.mask;
    }
  }
}

export class CommandLookup {
  readonly table: CompiledCommandTable;
  private readonly commands: NameIndex;
  private readonly subcommands: Array<NameIndex | null>;
  /** Per id: MergeKind, or 0 for commands that are not split. */
  readonly mergeKind: Int8Array;

  constructor(table: CompiledCommandTable) {
    this.table = table;
    const top: Array<{ name: string; id: number }> = [];
    table.names.forEach((name, id) => {
      if (!name.includes('|')) top.push({ name, id });
    });
    this.commands = new NameIndex(top);
    this.subcommands = table.names.map((name, id) => {
      const first = table.subStart[id];
      const count = table.subCount[id];
      if (first < 0 || count <= 0) return null;
      const subs: Array<{ name: string; id: number }> = [];
      for (let s = first; s < first + count; s++) {
        const full = table.names[s];
        subs.push({ name: full.slice(full.indexOf('|') + 1), id: s });
      }
      return new NameIndex(subs);
    });
    // From commands.json (through compileForNative), like the native engine's.
    this.mergeKind = Int8Array.from(table.mergeKind);
  }

  find(buf: Uint8Array, start: number, end: number): number {
    return this.commands.find(buf, start, end);
  }

  /** True when `id` is a container command (OBJECT, XINFO, ...). */
  isContainer(id: number): boolean {
    return this.subcommands[id] !== null;
  }

  /** Subcommand id of container `id` named buf[start, end), or -1. */
  findSub(id: number, buf: Uint8Array, start: number, end: number): number {
    const index = this.subcommands[id];
    return index === null ? -1 : index.find(buf, start, end);
  }
}
