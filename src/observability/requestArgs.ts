/** Arguments of one request read back from raw bytes (slow path: SLOWLOG entries only). */

/** `*N\r\n$len\r\n...`: the N bulk strings, copied; null when incomplete or malformed. */
export function parseRequestArgs(buf: Buffer, at: number): Buffer[] | null {
  let p = buf.indexOf(0x0d, at);
  if (p < 0) return null;
  const n = Number(buf.toString('latin1', at + 1, p));
  if (!Number.isInteger(n) || n < 0) return null;
  p += 2;
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    if (buf[p] !== 0x24) return null;
    const cr = buf.indexOf(0x0d, p);
    if (cr < 0) return null;
    const len = Number(buf.toString('latin1', p + 1, cr));
    if (!Number.isInteger(len) || len < 0 || cr + 2 + len > buf.length) return null;
    out.push(Buffer.from(buf.subarray(cr + 2, cr + 2 + len)));
    p = cr + 2 + len + 2;
  }
  return out;
}

/** An inline command: the line split on blanks (quotes are rare in slow commands; kept as typed). */
export function decodeInlineArgs(buf: Buffer, at: number): Buffer[] | null {
  let end = buf.indexOf(0x0a, at);
  if (end < 0) end = buf.length;
  const line = buf.toString('latin1', at, end).replace(/\r$/, '');
  const words = line.split(/[ \t]+/).filter((w) => w.length > 0);
  return words.length > 0 ? words.map((w) => Buffer.from(w, 'latin1')) : null;
}
