/**
 * Error lines of transactions, blocking commands, WAIT and CLIENT KILL/UNBLOCK: Redis 7.0's
 * exact texts where Redis has one (checked against redis-server in the integration tests),
 * Kvstore's own otherwise.
 */
import { errorReply, simpleReply } from '../Resp';

export const TXN = {
  queued: simpleReply('QUEUED'),
  nested: errorReply('ERR MULTI calls can not be nested'),
  watchInMulti: errorReply('ERR WATCH inside MULTI is not allowed'),
  execWithoutMulti: errorReply('ERR EXEC without MULTI'),
  discardWithoutMulti: errorReply('ERR DISCARD without MULTI'),
  execAbort: errorReply('EXECABORT Transaction discarded because of previous errors.'),
  emptyExec: Buffer.from('*0\r\n'),
  notInteger: errorReply('ERR value is not an integer or out of range'),
  timeoutNotInteger: errorReply('ERR timeout is not an integer or out of range'),
  timeoutNegative: errorReply('ERR timeout is negative'),
  unblockReason: errorReply('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR'),
  noSuchClient: errorReply('ERR No such client'),
  clientIdPositive: errorReply('ERR client-id should be greater than 0'),
  laddr: errorReply('ERR Kvstore does not support CLIENT KILL LADDR: clients connect to the proxy, use ADDR or ID'),
} as const;

export function notInTransaction(name: string, why: string): Buffer {
  return errorReply(`ERR Kvstore does not support ${name.toUpperCase().replace('|', ' ')} inside a transaction: ${why}`);
}

export function execAbortFailed(shardError: string): Buffer {
  return errorReply(`EXECABORT Transaction discarded: the dedicated connection failed before EXEC (${shardError}); nothing was executed`);
}

export function execAbortMoved(slotOrShard: string): Buffer {
  return errorReply(`EXECABORT Transaction discarded: ${slotOrShard} moved to another shard during the transaction; retry`);
}

export function movedWhileBlocked(slot: number): Buffer {
  return errorReply(`TRYAGAIN Kvstore: slot ${slot} moved to another shard while the client was blocked; retry`);
}

export function migratingNow(): Buffer {
  return errorReply('TRYAGAIN Kvstore: a key of this command is in a slot being migrated; retry');
}

export function blockTimedOut(ms: number, grace: number): Buffer {
  return errorReply(`ERR Kvstore: no reply within the command's timeout (${ms} ms) + timeouts.requestMs (${grace} ms); the blocked command was cancelled`);
}
