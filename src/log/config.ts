/** The `log:` section of the config file. Owner: the log feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const logSection = object({});

export type LogConfig = Infer<typeof logSection>;
