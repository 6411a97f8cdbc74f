/** The `metrics:` section of the config file. Owner: the metrics feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const metricsSection = object({});

export type MetricsConfig = Infer<typeof metricsSection>;
