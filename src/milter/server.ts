/**
 * The milter listener: `inet:HOST:PORT`, `inet6:[ADDR]:PORT` and `unix:/path` (Postfix's
 * syntax). Each connection gets its own MilterSession; a failure in one never reaches the
 * others. SIGHUP-style reload swaps the factory for new connections; close() drains.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import type { Logger } from 'winston';
import type { Registry } from 'prom-client';
import type { ListenSpec } from '../config/schema.ts';
import { MailanchorError, describeError } from '../errors.ts';
import type { FilterFactory } from './filter.ts';
import { MilterSession, type MilterSessionSettings } from './session.ts';
import { registerMilterMetrics, type MilterMetrics } from './metrics.ts';

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
  /** A node:cluster worker: the primary prepares and removes unix socket files. */
  readonly sharedListen?: boolean;
}

export interface MilterServer {
  /** Bound addresses in Postfix syntax, port 0 resolved. */
  readonly addresses: readonly string[];
  readonly activeSessions: number;
  setFactory(factory: FilterFactory): void;
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

export type ListenErrorCode = 'listen-failed' | 'socket-in-use' | 'socket-permissions';
export class MilterListenError extends MailanchorError<ListenErrorCode> {}

export async function startMilterServer(o: MilterServerOptions): Promise<MilterServer> {
  let factory = o.factory;
  const sessions = new Set<MilterSession>();
  const socketsClosed = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  const metrics: MilterMetrics | undefined = o.metrics ? registerMilterMetrics(o.metrics) : undefined;
  const maxSessions = o.maxSessions ?? 1000;
  const readTimeoutMs = o.config?.readTimeoutMs ?? 5 * 60_000;
  let counter = 0;
  const prefix = process.pid.toString(36);

  const onConnection = (socket: Socket): void => {
    if (sessions.size >= maxSessions) {
      o.logger.warn('milter connection refused: too many sessions', { max_sessions: maxSessions });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true); // replies are tiny; Nagle would add ~40 ms per stage
    const id = `${prefix}.${(++counter).toString(36)}`;
    const session = new MilterSession({
      id,
      factory,
      logger: o.logger,
      ...(metrics ? { metrics } : {}),
      ...(o.config ? { settings: o.config } : {}),
      transport: {
        write: (b) => {
          if (!socket.destroyed) socket.write(b);
        },
        end: () => socket.end(),
        pause: () => socket.pause(),
        resume: () => socket.resume(),
      },
    });
    sessions.add(session);
    metrics?.sessions.inc();
    metrics?.activeSessions.inc();
    socket.setTimeout(readTimeoutMs, () => {
      session.destroy('read-timeout');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    socket.on('end', () => session.end());
    socket.on('error', (err) => {
      o.logger.debug('milter socket error', { sid: id, ...describeError(err) });
      session.destroy('socket-error');
    });
    const closed = new Promise<void>((resolve) =>
      socket.on('close', () => {
        session.destroy('connection-closed');
        sessions.delete(session);
        socketsClosed.delete(closed);
        metrics?.activeSessions.dec();
        resolve();
      }),
    );
    socketsClosed.add(closed);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    void session.done.then(() => {
      // Give the final reply time to flush, then make sure the socket goes.
      if (!socket.destroyed) socket.end();
    });
  };

  const servers: Server[] = [];
  const addresses: string[] = [];
  const unixPaths: string[] = [];
  try {
    for (const spec of o.listen) {
      const server = createServer({ pauseOnConnect: false }, onConnection);
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
        await listen(server, { host: spec.host, port: spec.port }, `${spec.host}:${spec.port}`);
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

function listen(server: Server, opts: { path: string } | { host: string; port: number }, label: string): Promise<void> {
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
