/**
 * IP networks as the policy asks about them ("is this client in our trusted networks", "is it
 * a known forwarder"): compiled once per config into a BlockList, not per message.
 */
import { BlockList, isIP } from 'node:net';

export interface NetworkSet {
  covers(ip: string | undefined): boolean;
  readonly empty: boolean;
}

/** `cidrs` as the config decoder validated them: `192.0.2.0/24`, `2001:db8::/32` or one address. */
export function compileNetworks(cidrs: readonly string[]): NetworkSet {
  const list = new BlockList();
  for (const n of cidrs) {
    const [addr, bits] = n.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return {
    empty: cidrs.length === 0,
    covers(ip) {
      if (ip === undefined || cidrs.length === 0) return false;
      const family = isIP(ip);
      if (!family) return false;
      // An IPv4 client Postfix reports as IPv4-mapped IPv6 is the IPv4 client.
      const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] : undefined;
      if (mapped) return list.check(mapped, 'ipv4') || list.check(ip, 'ipv6');
      return list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
