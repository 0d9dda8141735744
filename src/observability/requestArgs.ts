/** Arguments of one request read back from raw bytes (slow path: SLOWLOG entries only). */

/**
 * `*N\r\n$len\r\n...`: the N bulk strings as views into `buf` (callers turn them into strings
 * at once: a SLOWLOG entry or a big-key name; copying every argument was most of a slow entry's
 * cost); null when incomplete or malformed.
 */
export function parseRequestArgs(buf: Buffer, at: number): Buffer[] | null {
  let p = at + 1;
  const n = decimalAt(buf, p);
  if (n < 0 || n > buf.length - at) return null;
  p = buf.indexOf(0x0a, p) + 1;
  const out: Buffer[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (buf[p] !== 0x24) return null;
    const len = decimalAt(buf, p + 1);
    if (len < 0) return null;
    const from = buf.indexOf(0x0a, p + 1) + 1;
    if (from + len > buf.length) return null;
    out[i] = buf.subarray(from, from + len);
    p = from + len + 2;
  }
  return out;
}

/** The non-negative decimal at buf[at] ending in \r\n; -1 when there is none (no string made). */
function decimalAt(buf: Buffer, at: number): number {
  let v = 0;
  let p = at;
  for (; p < buf.length && p - at < 18; p++) {
    const c = buf[p];
    if (c === 0x0d) break;
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return p === at || buf[p] !== 0x0d || buf[p + 1] !== 0x0a ? -1 : v;
}

/** An inline command: the line split on blanks (quotes are rare in slow commands; kept as typed). */
export function decodeInlineArgs(buf: Buffer, at: number): Buffer[] | null {
  let end = buf.indexOf(0x0a, at);
  if (end < 0) end = buf.length;
  const line = buf.toString('latin1', at, end).replace(/\r$/, '');
  const words = line.split(/[ \t]+/).filter((w) => w.length > 0);
  return words.length > 0 ? words.map((w) => Buffer.from(w, 'latin1')) : null;
}
