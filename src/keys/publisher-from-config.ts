/** The publisher a domain's `keys.domains.<d>.publisher` section asks for. */
import { loadTsigKey } from '../dns/tsig.ts';
import { hookPublisher, manualPublisher, rfc2136Publisher, zoneFilePublisher, type Publisher } from '../publish/publisher.ts';
import type { DomainKeysConfig } from './config.ts';
import { KeystoreError } from './errors.ts';

export async function publisherFromConfig(domain: string, cfg: DomainKeysConfig, write: (text: string) => void): Promise<Publisher> {
  const p = cfg.publisher;
  switch (p.type) {
    case 'manual':
      return manualPublisher(write);
    case 'zone-file':
      if (!p.file) throw new KeystoreError('config-invalid', `keys.domains.${domain}.publisher.file is required for type zone-file`, { domain });
      return zoneFilePublisher({ file: p.file, reload: p.reload });
    case 'rfc2136':
      if (!p.server) throw new KeystoreError('config-invalid', `keys.domains.${domain}.publisher.server is required for type rfc2136`, { domain });
      return rfc2136Publisher(p.server, p.tsig ? await loadTsigKey(p.tsig) : undefined);
    case 'hook':
      if (!p.command.length) throw new KeystoreError('config-invalid', `keys.domains.${domain}.publisher.command is required for type hook`, { domain });
      return hookPublisher(p.command);
  }
}
