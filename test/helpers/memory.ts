/**
 * Memory of an in-process proxy outside the JS heap, for the memory-bound tests: Buffers
 * (`arrayBuffers`) and the native buffers of the addon's sockets, which `arrayBuffers` does not
 * count (output queued for the kernel, buffers held, spare buffers, reads not handed to JS).
 */
import { nativeIoTotals, NativeIoTotals } from '../../src/proxy/io';

export interface MemorySample {
  arrayBuffers: number;
  /** null when the proxy does not use the addon's sockets. */
  native: NativeIoTotals | null;
}

export function sampleMemory(): MemorySample {
  return { arrayBuffers: process.memoryUsage().arrayBuffers, native: nativeIoTotals() };
}

/** Native bytes held: output buffers of the streams, spare buffers and unread input. */
export function nativeHeld(s: MemorySample): number {
  return s.native === null ? 0 : s.native.outputAllocated + s.native.poolBytes + s.native.inputHeld;
}

/** Peaks over repeated samples, relative to `before`. */
export class MemoryPeaks {
  arrayBuffers = 0;
  nativeHeld = 0;
  nativeQueued = 0;
  maxStreamQueued = 0;
  constructor(private readonly before: MemorySample) {}

  sample(): void {
    const now = sampleMemory();
    this.arrayBuffers = Math.max(this.arrayBuffers, now.arrayBuffers - this.before.arrayBuffers);
    this.nativeHeld = Math.max(this.nativeHeld, nativeHeld(now) - nativeHeld(this.before));
    this.nativeQueued = Math.max(this.nativeQueued, (now.native?.outputQueued ?? 0) - (this.before.native?.outputQueued ?? 0));
    this.maxStreamQueued = Math.max(this.maxStreamQueued, now.native?.maxStreamQueued ?? 0);
  }

  /** Everything outside the JS heap that grew. */
  get total(): number {
    return this.arrayBuffers + this.nativeHeld;
  }

  describe(): string {
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    return `arrayBuffers +${mb(this.arrayBuffers)}, native held +${mb(this.nativeHeld)}, native queued +${mb(this.nativeQueued)}, largest stream queue ${mb(this.maxStreamQueued)}`;
  }
}
