/** The `metrics:` section; every key documented in mailanchor.example.yml. */
import { hostPort, object, optional, type Infer } from '../config/schema.ts';

export const metricsSection = object({
  /** `HOST:PORT` for the Prometheus endpoint (GET /metrics); off when absent. Keep it on loopback. */
  listen: optional(hostPort(9465)),
});

export type MetricsConfig = Infer<typeof metricsSection>;
