/**
 * Inline command splitting, as Redis's sdssplitargs (sds.c) does it for processInlineBuffer:
 * - blanks (C isspace: space \t \n \v \f \r) separate arguments; an unquoted token ends at
 *   space, \t, \n, \r (not at \v or \f);
 * - "double quotes" understand \xHH and \n \r \t \b \a, any other \c is c;
 * - 'single quotes' understand only \';
 * - a closing quote must be followed by a blank or the end of the line, else the line is
 *   rejected (unbalanced quotes), as is a line that ends inside quotes;
 * - a quote inside a token starts quoting there (foo"bar baz" is one argument).
 * The line is treated as a C string: a NUL byte ends it.
 */

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

export interface InlineTokens {
  /** Raw [start, end) of each token in the input (quotes included). */
  raw: number[];
  decoded: Buffer[];
}

/** Split line[start, end); false on unbalanced quotes. Fills `out` (cleared first). */
export function splitInlineArgs(buf: Uint8Array, start: number, end: number, out: InlineTokens): boolean {
  out.raw.length = 0;
  out.decoded.length = 0;
  // Stop at a NUL byte, as the C string would.
  for (let i = start; i < end; i++) {
    if (buf[i] === 0) {
      end = i;
      break;
    }
  }
  const at = (i: number): number => (i < end ? buf[i] : 0);
  const bytes: number[] = [];
  let p = start;
  for (;;) {
    while (p < end && isSpace(buf[p])) p++;
    if (p >= end) return true;
    const tokenStart = p;
    let inDouble = false;
    let inSingle = false;
    let done = false;
    bytes.length = 0;
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (c === 0x5c && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          bytes.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 0x5c && at(p + 1) !== 0) {
          p++;
          const e = at(p);
          bytes.push(e === 0x6e ? 0x0a : e === 0x72 ? 0x0d : e === 0x74 ? 0x09 : e === 0x62 ? 0x08 : e === 0x61 ? 0x07 : e);
        } else if (c === 0x22) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return false;
          done = true;
        } else if (c === 0) {
          return false;
        } else {
          bytes.push(c);
        }
      } else if (inSingle) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++;
          bytes.push(0x27);
        } else if (c === 0x27) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return false;
          done = true;
        } else if (c === 0) {
          return false;
        } else {
          bytes.push(c);
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0) {
        done = true;
      } else if (c === 0x22) {
        inDouble = true;
      } else if (c === 0x27) {
        inSingle = true;
      } else {
        bytes.push(c);
      }
      if (p < end) p++;
    }
    // A token that ended on a blank consumed it; the raw range stops before that blank.
    const tokenEnd = p > tokenStart && p <= end && isSpace(buf[p - 1]) && !(inDouble || inSingle) ? p - 1 : p;
    out.raw.push(tokenStart, tokenEnd);
    out.decoded.push(Buffer.from(bytes));
  }
}

/** True when the line [start, end) needs sdssplitargs' full rules (it has a quote). */
export function inlineNeedsDecode(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] === 0x22 || buf[i] === 0x27) return true;
  return false;
}
