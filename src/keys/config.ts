/** The `keys:` section of the config file. Owner: the keys feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const keysSection = object({});

export type KeysConfig = Infer<typeof keysSection>;
