/**
 * Loads the hot path: the C++ addon (./NativeHotPath) unless KVSTORE_NATIVE=0, else — or when
 * the addon fails to load — the TypeScript reference, with a loud warning. `hotPathKind()` says
 * which one runs (for INFO / stats).
 */
import type { HotPath } from './api';
import { ReferenceHotPath } from './reference/ReferenceHotPath';
import { createLogger } from '../log';
import { NativeLoadError } from '../errors';

export type HotPathKind = 'native' | 'reference';

const log = createLogger('native');
let loadedKind: HotPathKind | null = null;

export function loadHotPath(): HotPath {
  if (process.env.KVSTORE_NATIVE === '0') {
    log.warn('KVSTORE_NATIVE=0: using the TypeScript reference hot path (much slower than the native addon)');
    loadedKind = 'reference';
    return new ReferenceHotPath();
  }
  try {
    // A plain require in try/catch: the module is optional (the addon may be missing or broken).
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require('./NativeHotPath') as { NativeHotPath?: new () => HotPath };
    if (typeof mod.NativeHotPath !== 'function') throw new NativeLoadError('./NativeHotPath does not export class NativeHotPath');
    const hotPath = new mod.NativeHotPath();
    loadedKind = 'native';
    return hotPath;
  } catch (err) {
    log.warn(
      { err: err instanceof Error ? { message: err.message, code: (err as { code?: string }).code } : String(err) },
      'NATIVE HOT PATH UNAVAILABLE: falling back to the TypeScript reference (nativeEnabled=false, expect much lower throughput)',
    );
    loadedKind = 'reference';
    return new ReferenceHotPath();
  }
}

/** Which implementation the last loadHotPath() returned (null before the first call). */
export function hotPathKind(): HotPathKind | null {
  return loadedKind;
}

export { ReferenceHotPath };
