/** Every key path of the config schema (`dane.sites[].cert_files`, `keys.domains.*.publisher.type`), walked from the decoders' metadata. */
import type { Decoder } from '../../src/config/schema.ts';
import { configSchema } from '../../src/config/sections.ts';

export interface SchemaKey {
  readonly path: string;
  readonly key: string;
}

export function schemaKeys(decoder: Decoder<unknown> = configSchema, path = ''): SchemaKey[] {
  const out: SchemaKey[] = [];
  if (decoder.fields) {
    for (const [key, field] of Object.entries(decoder.fields)) {
      const p = path ? `${path}.${key}` : key;
      out.push({ path: p, key }, ...schemaKeys(field.decode, p));
    }
  }
  if (decoder.item) out.push(...schemaKeys(decoder.item, decoder.freeKeys ? `${path}.*` : `${path}[]`));
  return out;
}
