/**
 * The one outbound client (src/net/outbound.ts) and its judge of addresses (src/net/addresses.ts),
 * tried as an attacker would: literals of every special-purpose range in every spelling the URL
 * parser lets through (IPv4-mapped `[::ffff:127.0.0.1]` arrives as `[::ffff:7f00:1]`), NAT64 and
 * 6to4 forms, names that resolve to loopback (the real `localhost` and a resolver of the test's
 * choosing), redirects to all of them; and the bounds: five redirects, http(s) only, a time-out,
 * a body cut at its limit with the connection dropped. Nothing refused is ever sent.
 */

import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import t, { type Test } from 'tap';
import { addressRefusal } from '../../src/net/addresses.ts';
import { createOutboundClient, guardedLookup, isRefusedAddress, type OutboundClient, RefusedAddressError, type Resolver } from '../../src/net/outbound.ts';
import { close, listen } from '../helpers/network.ts';

/** One address of every range the instance must not call, as the URL parser writes it. */
const REFUSED_ADDRESSES: Record<string, string> = {
  '0.0.0.0': 'this network',
  '0.1.2.3': 'this network',
  '10.1.2.3': 'private',
  '100.64.0.1': 'shared',
  '100.127.255.254': 'shared',
  '127.0.0.1': 'loopback',
  '127.255.255.254': 'loopback',
  '169.254.169.254': 'link-local',
  '172.16.0.1': 'private',
  '172.31.255.255': 'private',
  '192.0.0.8': 'IETF',
  '192.0.0.170': 'IETF',
  '192.0.2.1': 'documentation',
  '192.88.99.1': '6to4 relay',
  '192.168.0.1': 'private',
  '198.18.0.1': 'benchmarking',
  '198.19.255.255': 'benchmarking',
  '198.51.100.7': 'documentation',
  '203.0.113.9': 'documentation',
  '224.0.0.1': 'multicast',
  '239.255.255.250': 'multicast',
  '240.0.0.1': 'reserved',
  '255.255.255.254': 'reserved',
  '255.255.255.255': 'broadcast',
  '::': 'unspecified',
  '::1': 'loopback',
  '::808:808': 'IPv4-compatible',
  '100::1': 'discard',
  '2001::1': 'Teredo',
  '2001:2::1': 'IETF',
  '2001:db8::1': 'documentation',
  '3fff::1': 'documentation',
  '5f00::1': 'segment routing',
  'fc00::1': 'unique local',
  'fd12:3456::1': 'unique local',
  'fe80::1': 'link-local',
  'febf::1': 'link-local',
  'fec0::1': 'site-local',
  'ff02::1': 'multicast',
  '4000::1': 'not global unicast',
  // IPv4 inside IPv6: judged by the IPv4 address.
  '::ffff:7f00:1': 'loopback (127.0.0.1 inside)',
  '::ffff:a9fe:a9fe': 'link-local (169.254.169.254 inside)',
  '::ffff:a00:1': 'private (10.0.0.1 inside)',
  '::ffff:0:7f00:1': 'loopback (127.0.0.1 inside)',
  '64:ff9b::7f00:1': 'loopback (127.0.0.1 inside)',
  '64:ff9b::a9fe:a9fe': 'link-local',
  '64:ff9b:1::1': 'NAT64 local use',
  '2002:7f00:1::1': 'loopback (127.0.0.1 inside)',
  '2002:c0a8:101::': 'private (192.168.1.1 inside)',
};
const PUBLIC_ADDRESSES = [
  '93.184.216.34',
  '8.8.8.8',
  '1.1.1.1',
  '172.32.0.1',
  '100.128.0.1',
  '192.0.3.1',
  '198.20.0.1',
  '223.255.255.255',
  '2606:4700::1',
  '2001:4860:4860::8888',
  '::ffff:808:808',
  '64:ff9b::808:808',
  '2002:808:808::1',
];

t.test('every special-purpose range is refused by its bytes; public unicast is not', async (t) => {
  for (const [address, why] of Object.entries(REFUSED_ADDRESSES)) t.match(addressRefusal(address), why, `${address} refused`);
  for (const address of PUBLIC_ADDRESSES) t.equal(addressRefusal(address), null, `${address} is public`);
  t.match(addressRefusal('::127.0.0.1'), 'IPv4-compatible', 'a dotted IPv6 spelling is read by its bytes');
  t.match(addressRefusal('::ffff:127.0.0.1'), 'loopback');
  t.match(addressRefusal('[fe80::1%eth0]'), 'link-local', 'a zone does not hide the range');
  t.match(addressRefusal('example.com'), 'not an IP address');
  t.equal(new URL('http://[::ffff:127.0.0.1]/').hostname, '[::ffff:7f00:1]', 'the spelling the URL parser hands on');
});

t.test('the connect-time lookup hands only approved addresses to the socket', async (t) => {
  const resolver =
    (answers: string[]): Resolver =>
    async () =>
      answers.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  const run = (answers: string[], options: { all?: boolean; family?: number }) =>
    new Promise<{ error: Error | null; address: unknown }>((resolve) => {
      guardedLookup(resolver(answers))('mixed.example', options, (error, address) => resolve({ error, address }));
    });
  t.same(
    (await run(['127.0.0.1', '93.184.216.34', '::1', '2606:4700::1'], { all: true })).address,
    [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700::1', family: 6 },
    ],
    'the loopback answers of a name are dropped',
  );
  t.equal((await run(['10.0.0.1', '8.8.8.8'], {})).address, '8.8.8.8', 'one address: the first approved');
  t.equal((await run(['8.8.8.8', '2606:4700::1'], { family: 6 })).address, '2606:4700::1', 'of the family asked for');
  const refused = await run(['127.0.0.1', '::ffff:a9fe:a9fe'], { all: true });
  t.type(refused.error, RefusedAddressError, 'a name with only private addresses: no connection');
  t.match(refused.error?.message, 'mixed.example is not a public address (loopback)');
});

/** A server on loopback that records what reaches it. */
async function recorder(t: Test, handler: (url: string, res: import('node:http').ServerResponse, origin: string) => void) {
  const hits: string[] = [];
  let origin = '';
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req.url ?? '', res, origin);
  });
  const port = await listen(server);
  origin = `http://127.0.0.1:${port}`;
  t.teardown(() => close(server));
  return { hits, port, origin, server };
}

t.test('strict: literals, mapped forms and names of private addresses are refused before anything is sent', async (t) => {
  const { hits, port } = await recorder(t, (_url, res) => res.end('secret'));
  const toLoopback: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
  const client = createOutboundClient({ allowPrivateAddress: false, resolve: async (host) => (host === 'rebound.example' ? toLoopback(host) : []) });
  const system = createOutboundClient({ allowPrivateAddress: false });
  t.teardown(() => Promise.all([client.close(), system.close()]));
  const attempts = [
    `http://127.0.0.1:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
    `http://[::ffff:7f00:1]:${port}/`,
    `http://[::ffff:0:7f00:1]:${port}/`,
    `http://[64:ff9b::7f00:1]:${port}/`,
    `http://[2002:7f00:1::1]:${port}/`,
    `http://[::1]:${port}/`,
    `http://[::127.0.0.1]:${port}/`,
    `http://0x7f.1:${port}/`,
    `http://2130706433:${port}/`,
    `http://0177.0.0.1:${port}/`,
    `http://[::ffff:a9fe:a9fe]/meta`,
    'http://169.254.169.254/latest/meta-data/',
    'http://192.0.2.1/',
    'http://198.18.0.1/',
    'http://100.64.0.1/',
    'http://192.0.0.1/',
    'http://240.0.0.1/',
    'http://224.0.0.1/',
    'http://255.255.255.255/',
    'http://0.0.0.0/',
    `http://rebound.example:${port}/`,
  ];
  for (const url of attempts) {
    const error = await client.fetch(url, { timeoutMs: 5_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(isRefusedAddress(error), `${url} refused (${(error as Error | null)?.message})`);
  }
  const named = await system.fetch(`http://localhost:${port}/`).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(isRefusedAddress(named), 'localhost, resolved by the system, refused at connect time');
  t.same(hits, [], 'the server never heard a thing');
});

t.test('strict: every redirect hop is checked where it connects', async (t) => {
  // The test server stands in for a public site: the judge approves 127.0.0.1 and nothing else private.
  const refusal = (address: string) => (address === '127.0.0.1' ? null : addressRefusal(address));
  const targets: Record<string, string> = {
    '/mapped': 'http://[::ffff:7f00:2]/x',
    '/metadata': 'http://[::ffff:a9fe:a9fe]/meta',
    '/private': 'http://10.0.0.1/',
    '/name': 'http://intranet.example/',
    '/six': 'http://[::1]/',
    '/nat64': 'http://[64:ff9b::a00:1]/',
    '/doc': 'http://192.0.2.1/',
  };
  const { hits, origin } = await recorder(t, (url, res) => {
    const location = targets[url];
    if (location) return res.writeHead(302, { location }).end();
    res.end('ok');
  });
  const client = createOutboundClient({ allowPrivateAddress: false, refusal, resolve: async () => [{ address: '192.168.1.10', family: 4 }] });
  t.teardown(() => client.close());
  for (const path of Object.keys(targets)) {
    const error = await client.fetch(`${origin}${path}`, { timeoutMs: 5_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(isRefusedAddress(error), `a redirect to ${targets[path]} refused`);
  }
  t.same(
    hits,
    Object.keys(targets).map((p) => `GET ${p}`),
    'only the first hop of each was requested',
  );
});

t.test('bounds: redirects by hand (five, http(s) only), a time-out, a body cut at its limit', async (t) => {
  let dropped = false;
  const { hits, origin, server } = await recorder(t, (url, res, base) => {
    if (url === '/r1') return res.writeHead(302, { location: '/r2' }).end();
    if (url === '/r2') return res.writeHead(301, { location: `${base}/final` }).end();
    if (url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (url === '/ftp') return res.writeHead(302, { location: 'ftp://example.com/x' }).end();
    if (url === '/see-other') return res.writeHead(303, { location: '/final' }).end();
    if (url === '/silent') return; // never answers
    if (url === '/endless') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.on('close', () => (dropped = true));
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      return pump();
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('here');
  });
  const client: OutboundClient = createOutboundClient({ allowPrivateAddress: true });
  t.teardown(() => client.close());

  const followed = await client.fetch(`${origin}/r1`);
  t.equal(followed.status, 200);
  t.equal(followed.text(), 'here');
  t.equal(followed.url, `${origin}/final`);
  t.same(hits.splice(0), ['GET /r1', 'GET /r2', 'GET /final'], 'each hop requested by us');
  await t.rejects(client.fetch(`${origin}/loop`), /more than 5 redirects/);
  t.equal(hits.splice(0).length, 6, 'the first request and five redirects, no more');
  await t.rejects(client.fetch(`${origin}/ftp`), /not an http\(s\) URL/, 'a redirect to another scheme');
  hits.splice(0);
  await t.rejects(client.fetch('file:///etc/passwd'), /not an http\(s\) URL/);
  await t.rejects(client.fetch(`http://user:pw@127.0.0.1:1/`), /credentials/);
  const posted = await client.fetch(`${origin}/see-other`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  t.equal(posted.status, 200);
  t.same(hits.splice(0), ['POST /see-other', 'GET /final'], '303 continues as a GET');
  const manual = await client.fetch(`${origin}/r1`, { maxRedirects: 0 });
  t.equal(manual.status, 302, 'with no redirects allowed, a redirect is the answer');
  hits.splice(0);

  await t.rejects(client.fetch(`${origin}/silent`, { timeoutMs: 300 }), 'a server that never answers is given up on');
  const big = await client.fetch(`${origin}/endless`, { maxBytes: 64 * 1024 });
  t.equal(big.body.byteLength, 64 * 1024, 'the body is cut at its limit');
  t.ok(big.truncated);
  t.throws(() => big.json(), /larger than/, 'a cut body is never parsed as JSON');
  const until = Date.now() + 10_000;
  while (!dropped && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  t.ok(dropped, 'the connection was dropped instead of reading on');
  server.closeAllConnections();
});
