/**
 * The milter listener: `inet:HOST:PORT`, `inet6:[ADDR]:PORT` and `unix:/path` (Postfix's
 * syntax). Each connection gets its own MilterSession; a failure in one never reaches the
 * others (everything a session does runs in its `sessionScope`, so even an error no code
 * caught can be traced to it). SIGHUP-style reload swaps the factory for new connections;
 * close() drains.
 *
 * A session's slot (`max_sessions`) is freed the moment the session is over — QUIT, a
 * protocol error, a deadline — and its socket is closed fully, not half-closed until the
 * peer cares to close its side. All sessions share one BufferBudget (`max_buffered`).
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import type { Logger } from 'winston';
import type { Registry } from 'prom-client';
import type { ListenSpec } from '../config/schema.ts';
import { MailanchorError, describeError } from '../errors.ts';
import type { FilterFactory } from './filter.ts';
import { BufferBudget } from './buffer-budget.ts';
import { MilterSession, type MilterSessionSettings } from './session.ts';
import { sessionScope } from './session-scope.ts';
import { registerBufferGauge, registerMilterMetrics, type MilterMetrics } from './metrics.ts';

export interface MilterServerOptions {
  readonly listen: readonly ListenSpec[];
  readonly factory: FilterFactory;
  readonly logger: Logger;
  readonly metrics?: Registry;
  readonly config?: Partial<MilterSessionSettings>;
  /** Unix sockets: mode (default 0660), owner and group so Postfix can connect. */
  readonly socket?: { readonly mode?: number; readonly owner?: string; readonly group?: string };
  /** Connections over this are refused at once (Postfix then applies milter_default_action). */
  readonly maxSessions?: number;
  /** Bytes held for all sessions' frames together (milter.max_buffered); default 64 MiB. */
  readonly maxBuffered?: number;
  /** A node:cluster worker: the primary prepares and removes unix socket files. */
  readonly sharedListen?: boolean;
  /**
   * A node:cluster worker on Linux: bind its own TCP listener with SO_REUSEPORT instead of
   * sharing the primary's, so the primary never accepts (src/app/cluster.ts).
   */
  readonly ownTcpListener?: boolean;
}

export interface MilterServer {
  /** Bound addresses in Postfix syntax, port 0 resolved. */
  readonly addresses: readonly string[];
  readonly activeSessions: number;
  /** Bytes of frames held for all sessions now (the shared buffer budget in use). */
  readonly bufferedBytes: number;
  setFactory(factory: FilterFactory): void;
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

export type ListenErrorCode = 'listen-failed' | 'socket-in-use' | 'socket-permissions';
export class MilterListenError extends MailanchorError<ListenErrorCode> {}

/** Once a session is over, its final replies get this long to drain before the socket goes. */
const LINGER_MS = 2000;

export async function startMilterServer(o: MilterServerOptions): Promise<MilterServer> {
  let factory = o.factory;
  const sessions = new Set<MilterSession>();
  const socketsClosed = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  const metrics: MilterMetrics | undefined = o.metrics ? registerMilterMetrics(o.metrics) : undefined;
  const maxSessions = o.maxSessions ?? 1000;
  const budget = new BufferBudget(o.maxBuffered ?? 64 * 1024 * 1024);
  if (o.metrics) registerBufferGauge(o.metrics, () => budget.used);
  // A peer that does not read our replies must not make us buffer them without end.
  const maxWriteBacklog = Math.max(o.config?.maxFrame ?? 1024 * 1024, 64 * 1024);
  let counter = 0;
  const prefix = process.pid.toString(36);

  const onConnection = (socket: Socket): void => {
    if (sessions.size >= maxSessions) {
      o.logger.warn('milter connection refused: too many sessions', { max_sessions: maxSessions });
      metrics?.refusedSessions.inc();
      socket.destroy();
      return;
    }
    socket.setNoDelay(true); // replies are tiny; Nagle would add ~40 ms per stage
    const id = `${prefix}.${(++counter).toString(36)}`;
    const session: MilterSession = new MilterSession({
      id,
      factory,
      logger: o.logger,
      budget,
      ...(metrics ? { metrics } : {}),
      ...(o.config ? { settings: o.config } : {}),
      transport: {
        write: (b) => {
          if (socket.destroyed || socket.writableEnded) return;
          socket.write(b);
          if (socket.writableLength > maxWriteBacklog) {
            metrics?.protocolErrors.inc({ kind: 'write-backlog' });
            o.logger.warn('milter peer does not read our replies; closing this session', { sid: id, code: 'write-backlog', backlog: socket.writableLength });
            session.destroy('write-backlog');
            socket.destroy();
          }
        },
        end: () => {
          if (socket.destroyed) return;
          // Close fully: our final replies are flushed (or LINGER_MS passes), then the socket
          // goes whether or not the peer ever closes its side.
          const linger = setTimeout(() => socket.destroy(), LINGER_MS);
          linger.unref();
          socket.end(() => {
            clearTimeout(linger);
            socket.destroy();
          });
        },
        pause: () => socket.pause(),
        resume: () => socket.resume(),
      },
    });
    sessions.add(session);
    metrics?.sessions.inc();
    metrics?.activeSessions.inc();
    // Everything the session does, and everything that work starts, runs in its scope.
    const inScope = (fn: () => void): void => sessionScope.run(session, fn);
    socket.on('data', (chunk: Buffer) => inScope(() => session.receive(chunk)));
    socket.on('end', () => inScope(() => session.end()));
    socket.on('error', (err) => {
      o.logger.debug('milter socket error', { sid: id, ...describeError(err) });
      session.destroy('socket-error');
    });
    // The slot is free as soon as the session is over, not when the peer closes its side.
    void session.done.then(() => {
      if (sessions.delete(session)) metrics?.activeSessions.dec();
    });
    const closed = new Promise<void>((resolve) =>
      socket.on('close', () => {
        session.destroy('connection-closed');
        socketsClosed.delete(closed);
        resolve();
      }),
    );
    socketsClosed.add(closed);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const servers: Server[] = [];
  const addresses: string[] = [];
  const unixPaths: string[] = [];
  try {
    for (const spec of o.listen) {
      // allowHalfOpen: a peer's FIN must not end our side before its queued commands are answered.
      const server = createServer({ pauseOnConnect: false, allowHalfOpen: true }, onConnection);
      server.on('error', (err) => o.logger.error('milter listener error', describeError(err)));
      if (spec.kind === 'unix') {
        // A cluster worker shares a socket its primary prepared: another worker may already be
        // listening on it, so it neither replaces nor (at close) removes the file.
        if (!o.sharedListen) await removeStaleSocket(spec.path);
        await listen(server, { path: spec.path }, `unix:${spec.path}`);
        await applySocketPermissions(spec.path, o.socket);
        if (!o.sharedListen) unixPaths.push(spec.path);
        addresses.push(`unix:${spec.path}`);
      } else {
        await listen(server, { host: spec.host, port: spec.port, ...(o.ownTcpListener ? { reusePort: true, exclusive: true } : {}) }, `${spec.host}:${spec.port}`);
        const a = server.address();
        if (a && typeof a === 'object') addresses.push(a.family === 'IPv6' ? `inet6:[${a.address}]:${a.port}` : `inet:${a.address}:${a.port}`);
      }
      servers.push(server);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    throw err;
  }

  return {
    addresses,
    get activeSessions() {
      return sessions.size;
    },
    get bufferedBytes() {
      return budget.used;
    },
    setFactory(f) {
      factory = f;
    },
    async close(options = {}) {
      // net.Server#close calls back only once every connection is gone: stop accepting now,
      // await that after the drain.
      const listenersClosed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const p of unixPaths) await unlink(p).catch(() => undefined);
      const all = [...sessions];
      for (const s of all) s.drain();
      const drainMs = options.drainMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((r) => (timer = setTimeout(() => r('deadline'), drainMs)));
      const finished = await Promise.race([Promise.all(all.map((s) => s.done)).then(() => 'done' as const), deadline]);
      clearTimeout(timer);
      if (finished === 'deadline') {
        o.logger.warn('drain deadline passed; closing remaining milter sessions', { remaining: [...sessions].filter((s) => !s.closed).length });
        for (const s of sessions) s.destroy('shutdown');
        for (const sock of sockets) sock.destroy();
      }
      await Promise.all([listenersClosed, ...socketsClosed]);
    },
  };
}

function listen(server: Server, opts: { path: string } | { host: string; port: number; reusePort?: boolean; exclusive?: boolean }, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new MilterListenError('listen-failed', `cannot listen on ${label}: ${err.message}`, { listen: label }, { cause: err }));
    server.once('error', onError);
    server.listen({ ...opts, backlog: 511 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A socket file left by a crash is replaced; one that something still answers on is not. */
export async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new MilterListenError('socket-in-use', `${path} exists and is not a socket; refusing to replace it`, { path });
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection({ path });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new MilterListenError('socket-in-use', `another process listens on ${path}`, { path });
  await unlink(path);
}

async function applySocketPermissions(path: string, s: MilterServerOptions['socket']): Promise<void> {
  try {
    await chmod(path, s?.mode ?? 0o660);
    if (s?.owner || s?.group) {
      const uid = s.owner ? idOf('-u', s.owner) : -1;
      const gid = s.group ? idOf('-g', s.group) : -1;
      await chown(path, uid, gid);
    }
  } catch (err) {
    throw new MilterListenError('socket-permissions', `cannot set owner/mode of ${path}: ${describeError(err).message}`, { path }, { cause: err });
  }
}

/** Numeric ids pass through; names are resolved with id(1) (no native getpwnam in Node). */
function idOf(flag: '-u' | '-g', name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  if (flag === '-u') return Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const line = execFileSync('getent', ['group', name], { encoding: 'utf8' }).trim();
  const gid = Number(line.split(':')[2]);
  if (!Number.isInteger(gid)) throw new Error(`unknown group ${name}`);
  return gid;
}
