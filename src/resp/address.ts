/**
 * `host:port` as the runtime hands it over (topology, Sentinel replies), split on the last colon
 * so an unbracketed IPv6 host from Sentinel still works. User input is validated earlier, by
 * src/config/address.ts.
 */
import { KvstoreError } from '../errors';

/** Split without checking: a bad port comes back as NaN (net.connect then refuses it). */
export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  let host = address.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(address.slice(i + 1)) };
}

/** Split and check; throws KvstoreError E_ADDRESS on a missing host or a bad port. */
export function parseAddress(address: string): { host: string; port: number } {
  if (address.lastIndexOf(':') <= 0) throw new KvstoreError('E_ADDRESS', `bad address "${address}": expected host:port`);
  const parsed = splitAddress(address);
  if (!Number.isInteger(parsed.port) || parsed.port <= 0 || parsed.port > 65535) throw new KvstoreError('E_ADDRESS', `bad port in "${address}"`);
  return parsed;
}
