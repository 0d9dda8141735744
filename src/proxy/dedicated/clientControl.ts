/**
 * CLIENT UNBLOCK and CLIENT KILL for the proxy's own clients: ids and addresses are those the
 * proxy gives its clients (CLIENT ID, CLIENT INFO), on every worker (another worker's client is
 * reached through the primary, src/proxy/clients/). Texts and filter rules
 * follow Redis 7.0's clientCommand.
 */
import type { ClientInfo, ProxyContext } from '../ProxyContext';
import { errorReply, integerReply, OK } from '../Resp';
import { CLIENT_ERRORS, isLocalClientId, parseKill } from '../clients/ClientQuery';
import { ERRORS } from '../ReplyTexts';
import type { SessionClient } from './types';
import type { DedicatedPool } from './DedicatedPool';
import { TXN } from './texts';

/**
 * CLIENT UNBLOCK id [TIMEOUT|ERROR]: :1 when that client was blocked and is now unblocked. This
 * worker's client: unblocked on the caller's connection to the shard; another worker's: asked
 * of every worker through the primary (only the owner of the id can answer 1).
 */
export function clientUnblock(caller: SessionClient, pool: DedicatedPool, ctx: ProxyContext, args: Buffer[], seq: number): void {
  const idText = args[2].toString('latin1');
  if (!/^-?\d{1,18}$/.test(idText)) return caller.onReply(seq, TXN.notInteger);
  let mode = 'TIMEOUT';
  if (args.length === 4) {
    mode = args[3].toString('latin1').toUpperCase();
    if (mode !== 'TIMEOUT' && mode !== 'ERROR') return caller.onReply(seq, TXN.unblockReason);
  } else if (args.length > 4) return caller.onReply(seq, ERRORS.syntax);
  const id = Number(idText);
  const session = pool.sessionOf(id);
  if (session !== undefined || isLocalClientId(id) || id <= 0 || ctx.clientDirectory.remote === null) {
    if (session === undefined || !session.unblockOnServer(caller, mode, seq)) caller.onReply(seq, integerReply(0));
    return;
  }
  // Another worker's client: that worker unblocks it on its shard (through the primary).
  ctx.clientDirectory.query({ op: 'unblock', id, mode: mode as 'TIMEOUT' | 'ERROR' }).then(
    (r) => caller.onReply(seq, integerReply(r.killed > 0 ? 1 : 0)),
    (err: Error) => caller.onReply(seq, errorReply('ERR Kvstore: ', err.message)),
  );
}

/**
 * CLIENT KILL addr | CLIENT KILL [ID id] [ADDR addr] [LADDR addr] [USER name] [SKIPME yes|no] [TYPE t]:
 * the proxy's clients on every worker (src/proxy/clients/: parsed there, run on each worker
 * through the primary; the caller itself closes after its reply, as in Redis).
 */
export function clientKill(caller: SessionClient, ctx: ProxyContext, args: Buffer[], seq: number): void {
  const parsed = parseKill(args, caller.id);
  if (Buffer.isBuffer(parsed)) return caller.onReply(seq, parsed);
  ctx.clientDirectory.query(parsed.query).then(
    (r) => caller.onReply(seq, parsed.oldForm ? (r.killed > 0 ? OK : CLIENT_ERRORS.noSuchClient) : integerReply(r.killed)),
    (err: Error) => caller.onReply(seq, errorReply('ERR Kvstore: ', err.message)),
  );
}
