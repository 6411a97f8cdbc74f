/** The Prometheus endpoint: GET /metrics on the configured address, nothing else. */
import { createServer, type Server } from 'node:http';

import { MailanchorError } from '../errors.ts';

export class MetricsError extends MailanchorError<'listen-failed'> {}

export interface MetricsEndpoint {
  readonly address: string;
  close(): Promise<void>;
}

/** A Registry, or a cluster primary's view that aggregates its workers' registries. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export async function startMetricsEndpoint(registry: MetricsSource, listen: { host: string; port: number }): Promise<MetricsEndpoint> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new MetricsError('listen-failed', `cannot listen for metrics on ${listen.host}:${listen.port}: ${err.message}`, { listen }, { cause: err })));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const a = server.address();
  const address = a && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : String(a);
  return {
    address,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
