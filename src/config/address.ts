/**
 * `host:port` strings, as used for shard masters, replicas and Sentinels. IPv6 hosts go in
 * brackets (`[::1]:6379`), as redis-cli and most Redis tooling write them.
 */
import net from 'node:net';
import type { HostPort } from './types';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Why `host` is not a usable host name or IP address, or null when it is. */
export function hostProblem(host: unknown): string | null {
  if (typeof host !== 'string' || host === '') return 'the host is empty';
  if (net.isIP(host)) return null;
  if (HOSTNAME.test(host)) return null;
  return `"${host}" is not an IP address or a host name`;
}

/** Why `value` is not a valid "host:port", or null when it is. */
export function addressProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `expected a "host:port" string, got ${JSON.stringify(value)}`;
  const parsed = splitAddress(value);
  if (!parsed) return `"${value}" is not "host:port" (IPv6: "[::1]:6379")`;
  const hp = hostProblem(parsed.host);
  if (hp) return `"${value}": ${hp}`;
  if (!Number.isInteger(parsed.port) || parsed.port < 1 || parsed.port > 65535) return `"${value}": the port must be 1-65535`;
  return null;
}

function splitAddress(value: string): { host: string; port: number } | null {
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') return null;
    host = value.slice(1, close);
    if (net.isIPv6(host) === false) return null;
    portText = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon <= 0) return null;
    host = value.slice(0, colon);
    if (host.includes(':')) return null; // bare IPv6 without brackets is ambiguous
    portText = value.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  return { host, port: Number(portText) };
}

/** Parse a "host:port" that passed validation. Throws on anything else. */
export function parseAddress(value: string): HostPort {
  const problem = addressProblem(value);
  if (problem) throw new Error(problem);
  return splitAddress(value)!;
}

export function formatAddress({ host, port }: HostPort): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A comparable form: lowercase host, "localhost" and loopback spelled one way. */
export function canonicalAddress(value: string): string {
  const { host, port } = parseAddress(value);
  let h = host.toLowerCase();
  if (h === 'localhost' || h === '::ffff:127.0.0.1') h = '127.0.0.1';
  return `${h}|${port}`;
}

/** True when two listeners would collide: same port and same or wildcard host. */
export function listenersCollide(a: HostPort, b: HostPort): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  const wild = (h: string) => h === '0.0.0.0' || h === '::' || h === '';
  const norm = (h: string) => (h.toLowerCase() === 'localhost' ? '127.0.0.1' : h.toLowerCase());
  return wild(a.host) || wild(b.host) || norm(a.host) === norm(b.host);
}
