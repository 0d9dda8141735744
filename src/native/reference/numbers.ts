/**
 * Redis's string2ll (util.c) over a byte range: no '+', no leading zeros (except "0"), no "-0",
 * at most 20 characters, within the signed 64-bit range. Returns NaN when Redis would reject it.
 * Values beyond 2^53 lose precision but keep their sign and magnitude class, which is all the
 * callers need (they only compare against limits far below that).
 */
const LONG_STR_SIZE = 21;

export function redisStringToNumber(buf: Uint8Array, start: number, end: number): number {
  const slen = end - start;
  if (slen === 0 || slen >= LONG_STR_SIZE) return NaN;
  if (slen === 1 && buf[start] === 0x30) return 0;
  let p = start;
  let negative = false;
  if (buf[p] === 0x2d /* - */) {
    negative = true;
    p++;
    if (p === end) return NaN;
  }
  if (buf[p] < 0x31 || buf[p] > 0x39) return NaN;
  let value = 0;
  const digitsStart = p;
  for (; p < end; p++) {
    const d = buf[p] - 0x30;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  const digits = end - digitsStart;
  if (digits >= 19) {
    // Exact 64-bit overflow check, only for the rare very long numbers.
    let big = 0n;
    for (let i = digitsStart; i < end; i++) big = big * 10n + BigInt(buf[i] - 0x30);
    if (negative ? big > 9223372036854775808n : big > 9223372036854775807n) return NaN;
  }
  return negative ? -value : value;
}
