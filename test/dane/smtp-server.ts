/** A minimal SMTP server on loopback that offers STARTTLS and presents a given chain (Node `tls`). */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';

export interface TestSmtp {
  /** The port of the first listening address. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `listen`: where to listen (default 127.0.0.1 on a free port). Several addresses give the
 * same server on each, e.g. a private 127.x.y.z:25 and [::1]:25 for an MX host with A and AAAA.
 */
export async function startSmtp(chains: readonly { key: string; cert: string }[], listen: readonly { host: string; port: number }[] = [{ host: '127.0.0.1', port: 0 }]): Promise<TestSmtp> {
  // Several key/cert pairs = RSA and ECDSA side by side (Postfix smtpd_tls_chain_files).
  const secureContext = createSecureContext({ key: chains.map((c) => c.key), cert: chains.map((c) => c.cert) });
  const sockets = new Set<Socket>();
  const handler = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write('220 mx.test ESMTP test\r\n');
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') socket.write('250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
        else if (verb === 'STARTTLS') {
          socket.off('data', onData);
          socket.write('220 2.0.0 Ready to start TLS\r\n', () => {
            const tls = new TLSSocket(socket, { isServer: true, secureContext });
            tls.on('error', () => {});
            tls.on('data', (d: Buffer) => {
              if (d.toString().toUpperCase().startsWith('QUIT')) tls.end('221 bye\r\n');
            });
          });
          return;
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('502 5.5.2 not here\r\n');
      }
    };
    socket.on('data', onData);
  };
  const servers: Server[] = [];
  try {
    for (const l of listen) {
      const server = createServer(handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(l.port, l.host, () => resolve());
      });
      servers.push(server);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    port: (servers[0]!.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}
