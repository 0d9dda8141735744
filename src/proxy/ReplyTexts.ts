/**
 * Every error line the proxy writes itself, in one table: Redis's exact texts where Redis has
 * one (so clients and their error matching behave the same), Kvstore's own otherwise.
 */
import { PROTOCOL_ERROR_TEXT, ProtocolErrorCode } from '../native/api';
import { errorReply } from './Resp';

export const ERRORS = {
  noAuth: errorReply('NOAUTH Authentication required.'),
  wrongPass: errorReply('WRONGPASS invalid username-password pair or user is disabled.'),
  authWithoutPassword: errorReply(
    'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
  ),
  crossSlot: errorReply("CROSSSLOT Keys in request don't hash to the same slot"),
  slotNotServed: errorReply('CLUSTERDOWN Hash slot not served'),
  noShards: errorReply('CLUSTERDOWN Kvstore has no shards'),
  maxClients: errorReply('ERR max number of clients reached'),
  notInteger: errorReply('ERR value is not an integer or out of range'),
  syntax: errorReply('ERR syntax error'),
  invalidCursor: errorReply('ERR invalid cursor'),
  dbIndexOutOfRange: errorReply('ERR DB index is out of range'),
  onlyDb0: errorReply('ERR Kvstore supports only database 0 (SELECT 0)'),
  noProto: errorReply('NOPROTO unsupported protocol version'),
  resp3: errorReply('NOPROTO Kvstore speaks RESP2 only (HELLO 2)'),
  protoverNotInteger: errorReply('ERR Protocol version is not an integer or out of range'),
  badClientName: errorReply('ERR Client names cannot contain spaces, newlines or special characters.'),
  flushDisabled: errorReply('ERR Kvstore: FLUSHDB and FLUSHALL are disabled (allowFlush: false)'),
  unbalancedQuotes: errorReply(PROTOCOL_ERROR_TEXT[ProtocolErrorCode.UnbalancedQuotes]),
} as const;

/** Redis 7's reply to an unknown command, including its quirky argument preview. */
export function unknownCommandError(args: Buffer[]): Buffer {
  let preview = '';
  for (let i = 1; i < args.length && preview.length < 128; i++) {
    preview += `'${args[i].toString('latin1').slice(0, 128 - preview.length)}' `;
  }
  const name = args[0] ? args[0].toString('latin1').slice(0, 128) : '';
  return errorReplyLatin1(`ERR unknown command '${name}', with args beginning with: ${preview}`);
}

/** Redis 7's reply to `CONTAINER badsub`. */
export function unknownSubcommandError(container: string, sub: Buffer): Buffer {
  return errorReplyLatin1(`ERR unknown subcommand '${sub.toString('latin1').slice(0, 128)}'. Try ${container.toUpperCase()} HELP.`);
}

/** Error line keeping the client's bytes as they were (latin1 round-trips every byte). */
function errorReplyLatin1(text: string): Buffer {
  return Buffer.from(`-${text.replace(/[\r\n]/g, ' ')}\r\n`, 'latin1');
}
