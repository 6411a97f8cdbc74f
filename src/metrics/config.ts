/** The `metrics:` section; every key documented in mailanchor.example.yml. */
import { domain, hostPort, int, list, object, optional, withDefault, type Infer } from '../config/schema.ts';

export const metricsSection = object({
  /** `HOST:PORT` for the Prometheus endpoint (GET /metrics); off when absent. Keep it on loopback. */
  listen: optional(hostPort(9465)),
  /**
   * Policy domains that always get their own label in the DMARC metrics, besides
   * keys.domains and reports.domains (ours). Every other domain shares `other` unless it is
   * among the `top_domains` busiest.
   */
  domains: withDefault(list(domain()), () => []),
  /** How many of the busiest other policy domains get their own label (bounds the series kept). */
  top_domains: withDefault(int({ min: 0, max: 1000 }), 20),
});

export type MetricsConfig = Infer<typeof metricsSection>;
