/**
 * Glob matching with exactly the rules of Redis 7's `stringmatchlen` (util.c, case-sensitive as
 * KEYS and SCAN MATCH use it), on raw bytes:
 *   `*` any run of bytes, `?` one byte, `[abc]` `[^abc]` `[a-z]` sets (a reversed range `[z-a]`
 *   works too, `\x` inside a set is a literal x), `\x` outside a set a literal x.
 * Redis's quirks are kept on purpose, because a pattern must select the same keys as
 * `KEYS pattern` would: an unclosed `[` set ends at the end of the pattern, `[a-]` is the range
 * a..`]`, range bounds compare as signed chars (bytes >= 0x80 are negative), a trailing lone `\`
 * is a literal backslash, and reads past the end see the NUL that terminates an sds string.
 * The `skipLongerMatches` cut-off (Redis's fix for exponential backtracking) is kept as well,
 * so matching stays polynomial for hostile keys.
 */

/** Byte at `i`, or 0 past the end (Redis reads the sds terminator there). */
function at(buf: Buffer, i: number, end: number): number {
  return i < end ? buf[i] : 0;
}

/** The byte as C's signed `char` on x86/arm64-linux... Redis compares range bounds as int(char). */
function signedChar(b: number): number {
  return b >= 0x80 ? b - 0x100 : b;
}

/** Redis's `skipLongerMatches`, for the match in progress (matching is synchronous). */
let skipLonger = false;

function matchImpl(pat: Buffer, p: number, pEnd: number, str: Buffer, s: number, sEnd: number): boolean {
  let plen = pEnd - p;
  let slen = sEnd - s;
  while (plen > 0 && slen > 0) {
    const c = pat[p];
    if (c === 0x2a /* * */) {
      while (plen > 0 && at(pat, p + 1, pEnd) === 0x2a) {
        p++;
        plen--;
      }
      if (plen === 1) return true;
      while (slen > 0) {
        if (matchImpl(pat, p + 1, pEnd, str, s, sEnd)) return true;
        if (skipLonger) return false;
        s++;
        slen--;
      }
      // No position of the rest matched: no longer match for an earlier `*` can help either.
      skipLonger = true;
      return false;
    } else if (c === 0x3f /* ? */) {
      s++;
      slen--;
    } else if (c === 0x5b /* [ */) {
      p++;
      plen--;
      const not = at(pat, p, pEnd) === 0x5e; /* ^ */
      if (not) {
        p++;
        plen--;
      }
      let match = false;
      const sc = str[s];
      for (;;) {
        const pc = at(pat, p, pEnd);
        if (pc === 0x5c /* \ */ && plen >= 2) {
          p++;
          plen--;
          if (pat[p] === sc) match = true;
        } else if (pc === 0x5d /* ] */) {
          break;
        } else if (plen === 0) {
          p--;
          plen++;
          break;
        } else if (plen >= 3 && pat[p + 1] === 0x2d /* - */) {
          let start = signedChar(pc);
          let end = signedChar(pat[p + 2]);
          const ch = signedChar(sc);
          if (start > end) [start, end] = [end, start];
          p += 2;
          plen -= 2;
          if (ch >= start && ch <= end) match = true;
        } else if (pc === sc) {
          match = true;
        }
        p++;
        plen--;
      }
      if (not) match = !match;
      if (!match) return false;
      s++;
      slen--;
    } else {
      if (c === 0x5c /* \ */ && plen >= 2) {
        p++;
        plen--;
      }
      if (pat[p] !== str[s]) return false;
      s++;
      slen--;
    }
    p++;
    plen--;
    if (slen === 0) {
      while (at(pat, p, pEnd) === 0x2a) {
        p++;
        plen--;
      }
      break;
    }
  }
  return plen === 0 && slen === 0;
}

/** Does `str[start, start+length)` match `pattern`, as Redis's KEYS would decide? */
export function globMatch(pattern: Buffer, str: Buffer, start = 0, length = str.length - start): boolean {
  // KEYS and SCAN treat the pattern "*" as "all keys" before matching (the matcher itself would
  // refuse the empty key).
  if (pattern.length === 1 && pattern[0] === 0x2a) return true;
  skipLonger = false;
  return matchImpl(pattern, 0, pattern.length, str, start, start + length);
}

/**
 * The literal bytes every match must start with (the pattern up to its first special byte), used
 * to reject most keys with one compare before running the matcher.
 */
export function literalPrefix(pattern: Buffer): Buffer {
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === 0x2a || c === 0x3f || c === 0x5b || c === 0x5c) break;
    i++;
  }
  return pattern.subarray(0, i);
}

/**
 * Literal bytes every match must end with, for patterns without `[` (set syntax has quirks that
 * make its tail hard to bound: an unclosed set, `[a-]...`). Empty when unknown.
 */
export function literalSuffix(pattern: Buffer): Buffer {
  if (pattern.includes(0x5b)) return pattern.subarray(pattern.length);
  let i = pattern.length;
  while (i > 0) {
    const c = pattern[i - 1];
    if (c === 0x2a || c === 0x3f || c === 0x5c) break;
    i--;
  }
  return pattern.subarray(i);
}
