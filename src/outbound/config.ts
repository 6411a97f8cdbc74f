/** The `outbound:` section of the config file. Owner: the outbound feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const outboundSection = object({});

export type OutboundConfig = Infer<typeof outboundSection>;
