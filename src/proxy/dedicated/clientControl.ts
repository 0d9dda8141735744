/**
 * CLIENT UNBLOCK and CLIENT KILL for the proxy's own clients: ids and addresses are those the
 * proxy gives its clients (CLIENT ID, CLIENT INFO), within this worker. Texts and filter rules
 * follow Redis 7.0's clientCommand.
 */
import type { ClientInfo, ProxyContext } from '../ProxyContext';
import { integerReply, OK } from '../Resp';
import { ERRORS } from '../ReplyTexts';
import type { SessionClient } from './types';
import type { DedicatedPool } from './DedicatedPool';
import { TXN } from './texts';

/** CLIENT UNBLOCK id [TIMEOUT|ERROR]: :1 when that client was blocked and is now unblocked. */
export function clientUnblock(caller: SessionClient, pool: DedicatedPool, args: Buffer[], seq: number): void {
  const idText = args[2].toString('latin1');
  if (!/^-?\d{1,18}$/.test(idText)) return caller.onReply(seq, TXN.notInteger);
  let mode = 'TIMEOUT';
  if (args.length === 4) {
    mode = args[3].toString('latin1').toUpperCase();
    if (mode !== 'TIMEOUT' && mode !== 'ERROR') return caller.onReply(seq, TXN.unblockReason);
  } else if (args.length > 4) return caller.onReply(seq, ERRORS.syntax);
  const session = pool.sessionOf(Number(idText));
  if (session === undefined || !session.unblockOnServer(caller, mode, seq)) caller.onReply(seq, integerReply(0));
}

/** CLIENT KILL addr | CLIENT KILL [ID id] [ADDR addr] [LADDR addr] [USER name] [SKIPME yes|no] [TYPE t]. */
export function clientKill(caller: SessionClient, ctx: ProxyContext, args: Buffer[], seq: number): void {
  const clients = [...ctx.clients];
  if (args.length === 3) {
    // Old form: one address, +OK or an error.
    const addr = args[2].toString('latin1');
    const target = clients.find((c) => c.remote === addr);
    if (target === undefined) return caller.onReply(seq, TXN.noSuchClient);
    caller.onReply(seq, OK);
    killClient(target, caller);
    return;
  }
  let id: number | null = null;
  let addr: string | null = null;
  let skipMe = true;
  let typeNone = false;
  for (let i = 2; i < args.length; i += 2) {
    const opt = args[i].toString('latin1').toLowerCase();
    if (i + 1 >= args.length) return caller.onReply(seq, ERRORS.syntax);
    const value = args[i + 1].toString('latin1');
    if (opt === 'id') {
      if (!/^\d{1,18}$/.test(value) || Number(value) <= 0) return caller.onReply(seq, TXN.clientIdPositive);
      id = Number(value);
    } else if (opt === 'addr') addr = value;
    else if (opt === 'laddr') return caller.onReply(seq, TXN.laddr);
    else if (opt === 'user') {
      if (value !== 'default') return caller.onReply(seq, Buffer.from(`-ERR No such user '${value.replace(/[\r\n]/g, ' ')}'\r\n`, 'latin1'));
    } else if (opt === 'skipme') {
      const v = value.toLowerCase();
      if (v === 'yes') skipMe = true;
      else if (v === 'no') skipMe = false;
      else return caller.onReply(seq, ERRORS.syntax);
    } else if (opt === 'type') {
      const t = value.toLowerCase();
      if (t === 'normal') typeNone = false;
      else if (t === 'master' || t === 'replica' || t === 'slave' || t === 'pubsub') typeNone = true; // the proxy has none
      else return caller.onReply(seq, Buffer.from(`-ERR Unknown client type '${value.replace(/[\r\n]/g, ' ')}'\r\n`, 'latin1'));
    } else return caller.onReply(seq, ERRORS.syntax);
  }
  const victims = typeNone ? [] : clients.filter((c) => (id === null || c.id === id) && (addr === null || c.remote === addr) && !(skipMe && c.id === caller.id));
  caller.onReply(seq, integerReply(victims.length));
  for (const v of victims) killClient(v, caller);
}

function killClient(target: ClientInfo, caller: SessionClient): void {
  // Itself: after this reply, as Redis (CLIENT_CLOSE_AFTER_REPLY); others: now.
  if (target.id === caller.id) caller.endAfterReplies();
  else target.kill();
}
