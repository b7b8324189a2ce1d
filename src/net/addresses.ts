/**
 * Which IP addresses the instance may connect to when it fetches something on someone else's
 * behalf (src/net/outbound.ts): only globally reachable unicast addresses. Judged by the address
 * bytes (never by how the address is written) against the IANA special-purpose address
 * registries for IPv4 and IPv6: ipaddr.js's range() names most of them; the lists below repeat
 * the ones the issue named and add what ipaddr.js lacks, so a change in the library cannot open
 * one. IPv6 addresses that carry an IPv4 address (IPv4-mapped, IPv4-translated, NAT64's
 * well-known prefix, 6to4) are judged by the IPv4 address inside; Teredo (whose client address
 * is obfuscated) and NAT64's local-use prefix are refused outright.
 */
import ipaddr from 'ipaddr.js';

type Cidr = readonly [string, number, string];

/** IANA IPv4 special-purpose registry (RFC 6890 and later), the entries not globally reachable. */
const IPV4_REFUSED: readonly Cidr[] = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared address space'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
];

/** IANA IPv6 special-purpose registry (RFC 6890 and later) and the other non-global blocks. */
const IPV6_REFUSED: readonly Cidr[] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible (deprecated)'],
  ['100::', 64, 'discard-only'],
  ['2001::', 32, 'Teredo'],
  ['2001::', 23, 'IETF protocol assignments'],
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
  ['5f00::', 16, 'segment routing'],
  ['64:ff9b:1::', 48, 'NAT64 local use'],
  ['fc00::', 7, 'unique local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
];

const parsedV4 = IPV4_REFUSED.map(([a, bits, name]) => [ipaddr.IPv4.parse(a), bits, name] as const);
const parsedV6 = IPV6_REFUSED.map(([a, bits, name]) => [ipaddr.IPv6.parse(a), bits, name] as const);

/** Prefixes whose addresses carry an IPv4 address in their last 32 bits. */
const EMBEDDING_V4_IN_LOW_BITS: readonly (readonly [ipaddr.IPv6, number])[] = [
  [ipaddr.IPv6.parse('::ffff:0:0'), 96], // IPv4-mapped
  [ipaddr.IPv6.parse('::ffff:0:0:0'), 96], // IPv4-translated (RFC 6145)
  [ipaddr.IPv6.parse('64:ff9b::'), 96], // NAT64 well-known prefix (RFC 6052)
];
const SIX_TO_FOUR: readonly [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('2002::'), 16];
/** Global unicast (2000::/3): everything else is unassigned or special. */
const GLOBAL_UNICAST: readonly [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('2000::'), 3];

/**
 * Why the address may not be connected to ("loopback", "private", …), or null when it is a
 * globally reachable unicast address. Anything that does not parse as an address is refused.
 */
export function addressRefusal(address: string): string | null {
  let text = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // The URL parser writes an IPv6 address as its bytes in hex: ipaddr.js reads `::8.8.8.8`
    // (IPv4-compatible) as if it were `::ffff:8.8.8.8` (IPv4-mapped); `::808:808` it reads right.
    if (text.includes(':')) text = new URL(`http://[${text}]/`).hostname.slice(1, -1);
    parsed = ipaddr.parse(text);
  } catch {
    return 'not an IP address';
  }
  return parsed.kind() === 'ipv4' ? ipv4Refusal(parsed as ipaddr.IPv4) : ipv6Refusal(parsed as ipaddr.IPv6);
}

function ipv4Refusal(ip: ipaddr.IPv4): string | null {
  for (const [net, bits, name] of parsedV4) if (ip.match(net, bits)) return name;
  const range = ip.range();
  return range === 'unicast' ? null : range;
}

function ipv6Refusal(ip: ipaddr.IPv6): string | null {
  for (const [net, bits] of EMBEDDING_V4_IN_LOW_BITS) {
    if (ip.match(net, bits)) return embedded(ip, 6);
  }
  if (ip.match(...SIX_TO_FOUR)) return embedded(ip, 1);
  for (const [net, bits, name] of parsedV6) if (ip.match(net, bits)) return name;
  if (!ip.match(...GLOBAL_UNICAST)) return 'not global unicast';
  const range = ip.range();
  return range === 'unicast' ? null : range;
}

/** The IPv4 address in the 32 bits starting at 16-bit part `at`, judged as such. */
function embedded(ip: ipaddr.IPv6, at: number): string | null {
  const hi = ip.parts[at] as number;
  const lo = ip.parts[at + 1] as number;
  const inner = new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const why = ipv4Refusal(inner);
  return why === null ? null : `${why} (${inner.toString()} inside)`;
}
