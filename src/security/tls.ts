/**
 * TLS for clients and backends, with Node's `tls` (OpenSSL). Clients: a `tls.Server` on
 * `tls.port` beside (or instead of) the plain listener; each secure socket is served through
 * NodeStream (src/proxy/io), since the addon's native sockets speak plain TCP only.
 * Certificates are read from files at start and again on `reload()` (config reload):
 * `setSecureContext` swaps them for new handshakes while open connections keep theirs.
 * Backends: `backendTlsOptions` gives tls.connect options for `backend.tls.*`.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { TlsConfigError } from './errors';
import { DataPathIo, systemIo } from '../proxy/DataPathIo';
import { NodeStream } from '../proxy/io/NodeStream';

export interface ClientTlsConfig {
  port: number;
  certFile: string;
  keyFile: string;
  caFile: string;
  requireClientCert: boolean;
  minVersion: string;
  ciphers: string;
}

export interface BackendTlsConfig {
  enabled: boolean;
  caFile: string;
  certFile: string;
  keyFile: string;
  serverName: string;
}

function read(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new TlsConfigError(`${what}: cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Secure-context options for the client listener, read from the files now. */
export function serverContextOptions(config: ClientTlsConfig): tls.SecureContextOptions {
  if (!config.certFile || !config.keyFile) throw new TlsConfigError('tls.certFile and tls.keyFile are required when tls.port is set');
  if (config.requireClientCert && !config.caFile) throw new TlsConfigError('tls.requireClientCert needs tls.caFile (the CA that signs client certificates)');
  const options: tls.SecureContextOptions = {
    cert: read(config.certFile, 'tls.certFile'),
    key: read(config.keyFile, 'tls.keyFile'),
    ...(config.caFile ? { ca: read(config.caFile, 'tls.caFile') } : {}),
    minVersion: config.minVersion as tls.SecureVersion,
    ...(config.ciphers ? { ciphers: config.ciphers } : {}),
  };
  try {
    tls.createSecureContext(options); // a key that does not match the certificate fails here, not at the first client
  } catch (err) {
    throw new TlsConfigError(`tls: ${(err as Error).message}`);
  }
  return options;
}

/** The client TLS server (not listening yet); `onSocket` gets each socket after its handshake. */
export function createClientTlsServer(config: ClientTlsConfig, onSocket: (socket: tls.TLSSocket) => void, onError: (err: Error) => void): tls.Server {
  const server = tls.createServer(
    {
      ...serverContextOptions(config),
      requestCert: config.requireClientCert,
      rejectUnauthorized: config.requireClientCert,
      noDelay: true,
    } as tls.TlsOptions,
    (socket: tls.TLSSocket) => {
      socket.pause(); // read once the connection is attached (as plain accepted sockets)
      onSocket(socket);
    },
  );
  // No allowHalfOpen here: a peer that closes during the handshake would leave a half-open socket
  // that only the 120 s handshake timeout ends. A failed handshake (wrong CA, no client
  // certificate, plain RESP on the TLS port) costs only that socket.
  server.on('tlsClientError', (err, socket) => {
    onError(err);
    socket.destroy();
  });
  return server;
}

/** Re-read the certificate files: new handshakes use them, open connections are untouched. */
export function reloadClientTls(server: tls.Server, config: ClientTlsConfig): void {
  server.setSecureContext(serverContextOptions(config));
}

/** tls.connect options for a backend (`backend.tls.*`), or null when backend TLS is off. */
export function backendTlsOptions(config: BackendTlsConfig, host: string): tls.ConnectionOptions | null {
  if (!config.enabled) return null;
  return {
    ...(config.caFile ? { ca: read(config.caFile, 'backend.tls.caFile') } : {}),
    ...(config.certFile ? { cert: read(config.certFile, 'backend.tls.certFile') } : {}),
    ...(config.keyFile ? { key: read(config.keyFile, 'backend.tls.keyFile') } : {}),
    servername: config.serverName || (tlsServerNameAllowed(host) ? host : undefined),
  };
}

/** SNI must be a host name, never an IP literal (RFC 6066). */
function tlsServerNameAllowed(host: string): boolean {
  return !/^[\d.]+$/.test(host) && !host.includes(':');
}

/**
 * The data path's I/O with backend streams over TLS (backend.tls): a TLS socket per backend
 * connection, served through NodeStream (writes before the handshake are queued by the socket).
 */
export function backendTlsIo(config: BackendTlsConfig): DataPathIo {
  return {
    clock: systemIo.clock,
    connect(host, port, handler, _native, keepAliveMs) {
      const socket = tls.connect({ host, port, ...backendTlsOptions(config, host) });
      const stream = new NodeStream(socket, handler);
      stream.setNoDelay();
      stream.setKeepAlive(keepAliveMs);
      return stream;
    },
  };
}
