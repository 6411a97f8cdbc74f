/** The `milter:` section of the config file. Owner: the milter feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const milterSection = object({});

export type MilterConfig = Infer<typeof milterSection>;
