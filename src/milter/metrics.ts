/** Milter metrics on a prom-client Registry passed in (no global registry). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface MilterMetrics {
  readonly sessions: Counter<string>;
  readonly activeSessions: Gauge<string>;
  readonly refusedSessions: Counter<string>;
  readonly messages: Counter<'verdict'>;
  readonly protocolErrors: Counter<'kind'>;
  readonly filterErrors: Counter<'stage'>;
  readonly stageSeconds: Histogram<'stage'>;
}

export function registerMilterMetrics(registry: Registry): MilterMetrics {
  const registers = [registry];
  return {
    sessions: new Counter({ name: 'mailanchor_milter_sessions_total', help: 'Milter connections accepted', registers }),
    activeSessions: new Gauge({ name: 'mailanchor_milter_active_sessions', help: 'Milter connections open now', registers }),
    refusedSessions: new Counter({ name: 'mailanchor_milter_refused_sessions_total', help: 'Milter connections refused at once (max_sessions reached)', registers }),
    messages: new Counter({ name: 'mailanchor_milter_messages_total', help: 'Messages by final verdict', labelNames: ['verdict'], registers }),
    protocolErrors: new Counter({ name: 'mailanchor_milter_protocol_errors_total', help: 'Sessions closed for a protocol error, by kind', labelNames: ['kind'], registers }),
    filterErrors: new Counter({ name: 'mailanchor_milter_filter_errors_total', help: 'Filter failures (exception, timeout, refused modification) by stage', labelNames: ['stage'], registers }),
    stageSeconds: new Histogram({
      name: 'mailanchor_milter_stage_seconds',
      help: 'Time the filter took per stage',
      labelNames: ['stage'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
  };
}

/** The shared buffer budget in use, read at scrape time. */
export function registerBufferGauge(registry: Registry, used: () => number): void {
  new Gauge({
    name: 'mailanchor_milter_buffered_bytes',
    help: 'Bytes of milter frames held for all sessions (bounded by milter.max_buffered)',
    registers: [registry],
    collect() {
      this.set(used());
    },
  });
}
