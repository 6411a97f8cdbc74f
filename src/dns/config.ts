/** The `dns:` section of the config file. Owner: the dns feature; every key documented in mailanchor.example.yml. */
import { object, type Infer } from '../config/schema.ts';

export const dnsSection = object({});

export type DnsConfig = Infer<typeof dnsSection>;
