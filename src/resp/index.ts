/** RESP2 for control connections and the proxy's slow paths: codec, addresses, client. */
export { RedisReplyError } from '../errors';
export { encodeCommand, parseReply, replyEnd, decodeReply, parseInfo } from './codec';
export type { RespArg, RespValue, DecodeOptions } from './codec';
export { parseAddress, splitAddress } from './address';
export { RespClient, oneShot } from './RespClient';
export type { RespClientOptions } from './RespClient';
