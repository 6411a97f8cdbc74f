/** A winston logger that keeps its lines in memory, for asserting on log output. */
import winston from 'winston';
import Transport from 'winston-transport';

export interface CapturedLogger {
  readonly logger: winston.Logger;
  readonly lines: Array<Record<string, unknown>>;
}

class MemoryTransport extends Transport {
  readonly lines: Array<Record<string, unknown>>;
  constructor(lines: Array<Record<string, unknown>>) {
    super({ level: 'debug' });
    this.lines = lines;
  }
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push({ ...info });
    next();
  }
}

export function captureLogger(): CapturedLogger {
  const lines: Array<Record<string, unknown>> = [];
  const logger = winston.createLogger({ level: 'debug', transports: [new MemoryTransport(lines)] });
  return { logger, lines };
}
