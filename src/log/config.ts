/** The `log:` section; every key documented in mailanchor.example.yml. */
import { object, oneOf, withDefault, type Infer } from '../config/schema.ts';

export const logSection = object({
  /** `text`: one key=value line per event, for journald; `json`: one JSON object per line. */
  format: withDefault(oneOf(['text', 'json'] as const), () => 'text' as const),
  level: withDefault(oneOf(['error', 'warn', 'info', 'debug'] as const), () => 'info' as const),
  /** journald captures both; stderr keeps stdout free for command output. */
  destination: withDefault(oneOf(['stderr', 'stdout'] as const), () => 'stderr' as const),
});

export type LogConfig = Infer<typeof logSection>;
