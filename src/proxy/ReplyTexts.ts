/**
 * Every error line the proxy writes itself, in one table: Redis's exact texts where Redis has
 * one (so clients and their error matching behave the same), Kvstore's own otherwise.
 */
import { PROTOCOL_ERROR_TEXT, ProtocolErrorCode } from '../native/api';
import { errorReply } from './ErrorReply';

export const ERRORS = {
  noAuth: errorReply('NOAUTH Authentication required.'),
  wrongPass: errorReply('WRONGPASS invalid username-password pair or user is disabled.'),
  authWithoutPassword: errorReply(
    'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
  ),
  crossSlot: errorReply("CROSSSLOT Keys in request don't hash to the same slot"),
  /** A Redis Cluster node's refusals of SORT's BY pattern and GET (src/proxy/SortCommand.ts). */
  sortByDenied: errorReply('ERR BY option of SORT denied in Cluster mode.'),
  sortGetDenied: errorReply('ERR GET option of SORT denied in Cluster mode.'),
  slotNotServed: errorReply('CLUSTERDOWN Hash slot not served'),
  noShards: errorReply('CLUSTERDOWN Kvstore has no shards'),
  maxClients: errorReply('ERR max number of clients reached'),
  notInteger: errorReply('ERR value is not an integer or out of range'),
  timeoutNotInteger: errorReply('ERR timeout is not an integer or out of range'),
  syntax: errorReply('ERR syntax error'),
  invalidCursor: errorReply('ERR invalid cursor'),
  dbIndexOutOfRange: errorReply('ERR DB index is out of range'),
  onlyDb0: errorReply('ERR Kvstore supports only database 0 (SELECT 0)'),
  noProto: errorReply('NOPROTO unsupported protocol version'),
  helloNoAuth: errorReply(
    'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
  ),
  protoverNotInteger: errorReply('ERR Protocol version is not an integer or out of range'),
  badClientName: errorReply('ERR Client names cannot contain spaces, newlines or special characters.'),
  flushDisabled: errorReply('ERR Kvstore: FLUSHDB and FLUSHALL are disabled (allowFlush: false)'),
  unbalancedQuotes: errorReply(PROTOCOL_ERROR_TEXT[ProtocolErrorCode.UnbalancedQuotes]),
} as const;

/** Redis 7's reply to an unknown command, including its quirky argument preview. */
export function unknownCommandError(args: Buffer[]): Buffer {
  // Redis: "'%.*s' " per argument while the preview is under 128 bytes, each cut to what is left.
  const preview: Array<string | Buffer> = [];
  let length = 0;
  for (let i = 1; i < args.length && length < 128; i++) {
    const arg = args[i].subarray(0, 128 - length);
    preview.push("'", arg, "' ");
    length += arg.length + 3;
  }
  const name = args[0] ? args[0].subarray(0, 128) : EMPTY;
  return errorReply("ERR unknown command '", name, "', with args beginning with: ", ...preview);
}

/** Redis 7's reply to `CONTAINER badsub`. */
export function unknownSubcommandError(container: string, sub: Buffer): Buffer {
  return errorReply("ERR unknown subcommand '", sub.subarray(0, 128), `'. Try ${container.toUpperCase()} HELP.`);
}

const EMPTY = Buffer.alloc(0);
