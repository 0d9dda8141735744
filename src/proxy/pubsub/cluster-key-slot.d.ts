// cluster-key-slot ships no types: the two functions used here.
declare module 'cluster-key-slot' {
  /** CRC16 slot of a key (hash tags honoured). */
  export default function calculateSlot(key: string | Buffer): number;
  /** The common slot of several keys, or -1 when they differ. */
  export function generateMulti(keys: Array<string | Buffer>): number;
}
