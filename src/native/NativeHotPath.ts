/**
 * The HotPath contract (./api.ts) backed by the C++ addon (native/, built by node-gyp into
 * build/Release/kvstore_native.node). This class only forwards: every call crosses into native
 * once; the typed arrays are registered once with bindBatch/bindSlotTable.
 */
import * as fs from 'fs';
import * as path from 'path';
import { NativeLoadError } from '../errors';
import { S_NCMDS } from './api';
import type { CompiledCommandTable, HotPath, RequestBatch } from './api';

/** One native engine (native/binding.cc NativeEngine): its own config, table and bound arrays. */
export interface NativeEngine {
  configure(options: { maxBulkBytes: number; maxInlineBytes: number; hash: 'crc16' | 'murmur'; murmurSeed: number }): void;
  setCommandTable(compiled: CompiledCommandTable): void;
  bindBatch(cmds: Int32Array, args: Int32Array, keys: Int32Array, status: Int32Array, replyEnds: Int32Array, replyStatus: Int32Array, plan: Int32Array): void;
  bindSlotTable(table: Uint16Array): void;
  /** Writes the merged reply into `out`; returns its size, or -size when `out` is too small. */
  merge(plan: Int32Array, replies: Buffer[], out: Buffer): number;
  keySlot(key: Buffer): number;
  decodeInline(line: Buffer): Buffer[] | null;
  commandInfo(id: number): [number, number] | null;
  /** Where parseAt/frameAt read (from, end, resumeAt, resumeArgs|resumeOwed, copyAt). */
  bindCallArgs(args: Float64Array): void;
  /** parseRequests/frameReplies as plain functions bound to this engine (no unwrap per call). */
  hotFunctions(): {
    /** parseRequests with its numbers in the call-args array; the count is status[S_NCMDS]. */
    parseAt(chunk: Buffer, copyTo?: Buffer): void;
    /** frameReplies with its numbers in the call-args array. */
    frameAt(chunk: Buffer): number;
    /** copyBytes with (at, start, end) in the call-args array. */
    copyAt(dst: Buffer, src: Buffer): void;
    /** split with cmdIndex in the call-args array: the size written to out, or -size when out is too small. */
    splitAt(chunk: Buffer, out: Buffer): number;
    /** mergeStore into out: the size, or -size when out is too small. */
    mergeStoreAt(plan: Int32Array, store: Buffer, spans: Int32Array, out: Buffer): number;
  };
}

/** The raw addon exports. */
export interface KvstoreAddon {
  Engine: new () => NativeEngine;
  /** CRC16 slot (hash tags honoured), without an engine. */
  keySlot(key: Buffer): number;
  crc16(data: Buffer): number;
  murmur2(data: Buffer, seed: number): number;
}

const ADDON_FILE = path.join('build', 'Release', 'kvstore_native.node');

/** The package root: the nearest folder above this file with a package.json (works from src/ and dist/src/). */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new NativeLoadError(`no package root above ${__dirname}`);
    dir = parent;
  }
}

let cached: KvstoreAddon | undefined;

/** Loads the addon once per process (KVSTORE_NATIVE_PATH overrides the location). */
export function loadAddon(): KvstoreAddon {
  if (cached) return cached;
  const file = process.env.KVSTORE_NATIVE_PATH || path.join(packageRoot(), ADDON_FILE);
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    cached = require(file) as KvstoreAddon;
  } catch (err) {
    throw new NativeLoadError(`cannot load the native addon ${file}: ${(err as Error).message}`);
  }
  return cached;
}

export class NativeHotPath implements HotPath {
  readonly nativeEnabled = true;
  /** This instance's native engine (instances share nothing). */
  readonly addon: NativeEngine;

  private readonly parseAt: (chunk: Buffer, copyTo?: Buffer) => void;
  private readonly frameAt: (chunk: Buffer) => number;
  private readonly copyAt: (dst: Buffer, src: Buffer) => void;
  private readonly splitAt: (chunk: Buffer, out: Buffer) => number;
  private readonly mergeStoreAt: (plan: Int32Array, store: Buffer, spans: Int32Array, out: Buffer) => number;
  /**
   * The numbers of the two per-read calls, written here and read by the addon (bindCallArgs): a
   * typed-array store costs next to nothing, an N-API number argument a type check and a conversion.
   */
  private readonly callArgs = new Float64Array(5);
  private status: Int32Array | null = null;

  constructor(addon: KvstoreAddon = loadAddon()) {
    this.addon = new addon.Engine();
    const hot = this.addon.hotFunctions();
    this.parseAt = hot.parseAt;
    this.frameAt = hot.frameAt;
    this.copyAt = hot.copyAt;
    this.splitAt = hot.splitAt;
    this.mergeStoreAt = hot.mergeStoreAt;
    this.addon.bindCallArgs(this.callArgs);
  }

  configure(options: { maxBulkBytes: number; maxInlineBytes: number; hash: 'crc16' | 'murmur'; murmurSeed: number }): void {
    this.addon.configure(options);
  }

  setCommandTable(compiled: CompiledCommandTable): void {
    this.addon.setCommandTable(compiled);
  }

  bindBatch(batch: RequestBatch, replyEnds: Int32Array, replyStatus: Int32Array, plan: Int32Array): void {
    this.addon.bindBatch(batch.cmds, batch.args, batch.keys, batch.status, replyEnds, replyStatus, plan);
    this.status = batch.status;
  }

  bindSlotTable(table: Uint16Array): void {
    this.addon.bindSlotTable(table);
  }

  parseRequests(chunk: Buffer, from: number, end = chunk.length, resumeAt = 0, resumeArgs = 0, copyTo: Buffer | null = null, copyAt = 0): number {
    const a = this.callArgs;
    a[0] = from;
    a[1] = end;
    a[2] = resumeAt;
    a[3] = resumeArgs;
    if (copyTo === null) this.parseAt(chunk);
    else {
      a[4] = copyAt;
      this.parseAt(chunk, copyTo);
    }
    return this.status![S_NCMDS];
  }

  frameReplies(chunk: Buffer, from: number, end = chunk.length, resumeAt = 0, resumeOwed = 0): number {
    const a = this.callArgs;
    a[0] = from;
    a[1] = end;
    a[2] = resumeAt;
    a[3] = resumeOwed;
    return this.frameAt(chunk);
  }

  copyBytes(dst: Buffer, at: number, src: Buffer, start: number, end: number): void {
    const a = this.callArgs;
    a[0] = at;
    a[1] = start;
    a[2] = end;
    this.copyAt(dst, src);
  }

  // Reused output buffers: no ArrayBuffer (malloc + backing-store registration) per command.
  private splitOut = Buffer.allocUnsafeSlow(16 * 1024);
  private mergeOut = Buffer.allocUnsafeSlow(16 * 1024);

  split(chunk: Buffer, cmdIndex: number): Buffer {
    this.callArgs[0] = cmdIndex;
    let n = this.splitAt(chunk, this.splitOut);
    if (n < 0) {
      this.splitOut = Buffer.allocUnsafeSlow(grownSize(this.splitOut.length, -n));
      this.callArgs[0] = cmdIndex;
      n = this.splitAt(chunk, this.splitOut);
    }
    return this.splitOut.subarray(0, n);
  }

  merge(plan: Int32Array, replies: Buffer[]): Buffer {
    let n = this.addon.merge(plan, replies, this.mergeOut);
    if (n < 0) {
      this.mergeOut = Buffer.allocUnsafeSlow(grownSize(this.mergeOut.length, -n));
      n = this.addon.merge(plan, replies, this.mergeOut);
    }
    return this.mergeOut.subarray(0, n);
  }

  mergeStore(plan: Int32Array, store: Buffer, spans: Int32Array): Buffer {
    let n = this.mergeStoreAt(plan, store, spans, this.mergeOut);
    if (n < 0) {
      this.mergeOut = Buffer.allocUnsafeSlow(grownSize(this.mergeOut.length, -n));
      n = this.mergeStoreAt(plan, store, spans, this.mergeOut);
    }
    return this.mergeOut.subarray(0, n);
  }

  keySlot(key: Buffer): number {
    return this.addon.keySlot(key);
  }

  decodeInline(line: Buffer): Buffer[] | null {
    return this.addon.decodeInline(line);
  }

  commandInfo(id: number): [number, number] | null {
    return this.addon.commandInfo(id);
  }
}

export default NativeHotPath;

/** At least `needed`, doubling, so a rare huge command does not cost one allocation per size. */
function grownSize(current: number, needed: number): number {
  let size = current;
  while (size < needed) size *= 2;
  return size;
}
