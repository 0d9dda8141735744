/**
 * KEYS, SCAN and RANDOMKEY under key rewrite (called from src/proxy/ProxyCommands.ts when the
 * proxy has a KeyNameView): names read back from the shards are mapped to the names clients use,
 * and names nobody may see (dropped plain keys, derived names of dead generations) are hidden.
 *
 * - KEYS pattern: without rules, the shards' answer minus hidden names. With rules, each shard
 *   runs KEYS twice: `pattern` (plain keys) and `<prefix>*pattern` (a superset of the derived
 *   names whose original matches); the union is revealed, filtered by `pattern`, de-duplicated.
 * - SCAN: with rules, MATCH is not sent to the shards (a derived name does not match the client's
 *   pattern); the proxy filters the revealed names by it. Like Redis, a SCAN call may then return
 *   fewer names than COUNT, or none, with a non-zero cursor.
 * - RANDOMKEY: a hidden answer is retried on random shards; after RANDOMKEY_TRIES, the shards
 *   are scanned for the first visible name (nil only when there is none).
 */
import { ClientSession, ReplyTarget, stepSink } from '../proxy/ReplyTarget';
import type { KeyNameView } from '../proxy/Hooks';
import type { ProxyContext } from '../proxy/ProxyContext';
import { concatArrays } from '../proxy/FanOut';
import { arrayReply, bulkReply, isErrorReply, isNullReply, nullReply } from '../proxy/Resp';
import { decodeReply, encodeCommand } from '../resp';
import { ERRORS } from '../proxy/ReplyTexts';

const RANDOMKEY_TRIES = 16;
const FALLBACK_SCAN_COUNT = '1000';

function encodeNames(names: Buffer[]): Buffer {
  return arrayReply(names.map((n) => bulkReply(n)));
}

/** KEYS pattern. */
export function keysCommand(client: ReplyTarget, ctx: ProxyContext, view: KeyNameView, args: Buffer[], seq: number): void {
  const n = ctx.router.shards.length;
  if (n === 0) return client.onReply(seq, ERRORS.noShards);
  const pattern = args[1];
  const patterns = view.active ? view.backendKeysPatterns(pattern) : [pattern];
  const commands = patterns.map((p) => encodeCommand([args[0], p]));
  const replies: Buffer[] = [];
  let remaining = n * commands.length;
  const done = () => {
    const err = replies.find(isErrorReply);
    if (err) return client.onReply(seq, err);
    if (!view.active && !replies.some((r) => view.mayHoldDerived(r))) return client.onReply(seq, concatArrays(replies));
    const all: Buffer[] = [];
    for (const r of replies) for (const name of decodeReply(r) as Buffer[]) all.push(name);
    // Without rules the backend already applied the pattern; only hidden names go.
    client.onReply(seq, encodeNames(view.visibleNames(all, view.active ? pattern : undefined)));
  };
  for (let i = 0; i < n; i++) {
    for (const command of commands) {
      client.forwardTo(i, command, 0, stepSink(client, seq, ctx.log, (reply) => {
        replies.push(Buffer.from(reply));
        if (--remaining === 0) done();
      }));
    }
  }
}

/**
 * SCAN options for the shard: with rules active, MATCH is removed and returned so the proxy
 * applies it to the revealed names. Malformed options are left for the shard to refuse.
 */
export function scanOptions(view: KeyNameView | null, options: Buffer[]): { options: Buffer[]; pattern?: Buffer } {
  if (!view?.active) return { options };
  const out: Buffer[] = [];
  let pattern: Buffer | undefined;
  // Options are keyword/value pairs (MATCH p, COUNT n, TYPE t): a value is never a keyword.
  for (let i = 0; i < options.length; i += 2) {
    if (i + 1 < options.length && options[i].toString('latin1').toLowerCase() === 'match') {
      pattern = options[i + 1];
      continue;
    }
    out.push(...options.slice(i, i + 2));
  }
  return { options: out, pattern };
}

/** The names part of a SCAN reply (already framed as an array), mapped and filtered. */
export function scanNames(view: KeyNameView | null, namesReply: Buffer, pattern: Buffer | undefined): Buffer {
  if (!view || (!view.active && !view.mayHoldDerived(namesReply))) return namesReply;
  return encodeNames(view.visibleNames(decodeReply(namesReply) as Buffer[], pattern));
}

/** RANDOMKEY: a visible name from a random shard, or nil when there is none. */
export function randomKeyCommand(client: ClientSession, ctx: ProxyContext, view: KeyNameView, seq: number): void {
  const n = ctx.router.shards.length;
  if (n === 0) return client.onReply(seq, ERRORS.noShards);
  const command = encodeCommand(['RANDOMKEY']);
  const empty = new Set<number>();
  const attempt = (tries: number): void => {
    if (empty.size === n) return client.onReply(seq, nullReply(client.proto));
    if (tries >= RANDOMKEY_TRIES) return scanForVisible(client, ctx, view, seq);
    let shard = Math.floor(Math.random() * n);
    while (empty.has(shard)) shard = (shard + 1) % n;
    client.forwardTo(shard, command, 0, stepSink(client, seq, ctx.log, (reply) => {
      if (isErrorReply(reply)) return client.onReply(seq, Buffer.from(reply));
      if (isNullReply(reply)) {
        empty.add(shard);
        return attempt(tries);
      }
      const visible = view.reveal(decodeReply(reply) as Buffer);
      if (visible) client.onReply(seq, bulkReply(Buffer.from(visible)));
      else attempt(tries + 1);
    }));
  };
  attempt(0);
}

/** The fallback when random picks keep hitting hidden names: the first visible name found. */
function scanForVisible(client: ClientSession, ctx: ProxyContext, view: KeyNameView, seq: number): void {
  const n = ctx.router.shards.length;
  const start = Math.floor(Math.random() * n);
  const step = (k: number, cursor: string): void => {
    if (k >= n) return client.onReply(seq, nullReply(client.proto));
    const shard = (start + k) % n;
    client.forwardTo(shard, encodeCommand(['SCAN', cursor, 'COUNT', FALLBACK_SCAN_COUNT]), 0, stepSink(client, seq, ctx.log, (reply) => {
      if (isErrorReply(reply)) return client.onReply(seq, Buffer.from(reply));
      const [next, names] = decodeReply(reply) as [Buffer, Buffer[]];
      const visible = view.visibleNames(names);
      if (visible.length > 0) return client.onReply(seq, bulkReply(Buffer.from(visible[Math.floor(Math.random() * visible.length)])));
      const nextCursor = next.toString('latin1');
      if (nextCursor === '0') step(k + 1, '0');
      else step(k, nextCursor);
    }));
  };
  step(0, '0');
}
