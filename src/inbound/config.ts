/** The `inbound:` section of the config file. Owner: the inbound feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const inboundSection = object({});

export type InboundConfig = Infer<typeof inboundSection>;
