/**
 * Where a blocking command says how long it may block, so the proxy can bound its own wait
 * (Redis answers at that timeout; the proxy gives up only `timeouts.requestMs` later).
 */

/** XREAD / XREADGROUP: the BLOCK option's index (before STREAMS), or -1 when it does not block. */
export function xreadBlockIndex(args: Buffer[]): number {
  for (let i = 1; i < args.length - 1; i++) {
    const a = args[i].toString('latin1').toLowerCase();
    if (a === 'streams') return -1;
    if (a === 'block') return i + 1;
  }
  return -1;
}

/**
 * The command's timeout in ms (0 = forever), or null when Redis will refuse it at once (not a
 * number, negative): then the proxy only waits for that refusal.
 */
export function blockingTimeoutMs(name: string, args: Buffer[]): number | null {
  let text: string | undefined;
  let unit = 1000;
  switch (name) {
    case 'blmpop':
    case 'bzmpop':
      text = args[1]?.toString('latin1');
      break;
    case 'xread':
    case 'xreadgroup': {
      const i = xreadBlockIndex(args);
      text = i < 0 ? undefined : args[i].toString('latin1');
      unit = 1;
      break;
    }
    default:
      text = args[args.length - 1]?.toString('latin1'); // BLPOP, BRPOP, BZPOP*, BRPOPLPUSH, BLMOVE
  }
  if (text === undefined || !/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text)) return null;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) return null;
  return Math.ceil(value * unit);
}
