/** The `dane:` section of the config file. Owner: the dane feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const daneSection = object({});

export type DaneConfig = Infer<typeof daneSection>;
