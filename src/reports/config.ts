/** The `reports:` section of the config file. Owner: the reports feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const reportsSection = object({});

export type ReportsConfig = Infer<typeof reportsSection>;
