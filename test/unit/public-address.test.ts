/**
 * The guard on URLs that others choose (pages to discover, NodeInfo, webhooks): private
 * addresses refused unless allowed, redirects followed by hand and each hop checked.
 */
import { createServer } from 'node:http';
import t from 'tap';
import type { Context } from '../../src/context.ts';
import { fetchPublic, isPrivateAddress, PrivateAddressError, resolvesPrivately } from '../../src/public-address.ts';
import { close, listen } from '../helpers/network.ts';

const strict = { config: { allowPrivateAddress: false } } as Context;
const lenient = { config: { allowPrivateAddress: true } } as Context;

t.test('private addresses and names', async (t) => {
  for (const host of ['localhost', 'a.localhost', '127.0.0.1', '10.1.2.3', '192.168.0.1', '172.16.0.1', '172.31.255.255', '169.254.169.254', '100.64.0.1', '0.0.0.0', '[::1]', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1']) {
    t.ok(isPrivateAddress(host), `${host} is private`);
  }
  for (const host of ['93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700::1', 'example.com']) {
    t.notOk(isPrivateAddress(host), `${host} is not`);
  }
  t.ok(await resolvesPrivately('localhost'), 'a name resolving to loopback');
  t.notOk(await resolvesPrivately('8.8.8.8'));
  t.notOk(await resolvesPrivately('no-such-host.invalid'), 'a name that does not resolve cannot be called anyway');
});

t.test('fetchPublic: private refused, redirects followed by hand and counted', async (t) => {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/r1') return res.writeHead(302, { location: '/r2' }).end();
    if (req.url === '/r2') return res.writeHead(301, { location: `${origin}/final` }).end();
    if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (req.url === '/ftp') return res.writeHead(302, { location: 'ftp://example.com/x' }).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('here');
  });
  const origin = `http://127.0.0.1:${await listen(server)}`;
  t.teardown(() => close(server));

  await t.rejects(fetchPublic(strict, `${origin}/final`), PrivateAddressError, 'a private address is refused...');
  await t.rejects(fetchPublic(strict, `http://localhost:1/x`), PrivateAddressError, '...by name too');
  t.same(hits, [], '...before anything is sent');

  const followed = await fetchPublic(lenient, `${origin}/r1`);
  t.equal(followed.status, 200);
  t.equal(await followed.text(), 'here');
  t.same(hits, ['/r1', '/r2', '/final'], 'each hop requested by us');
  await t.rejects(fetchPublic(lenient, `${origin}/loop`), /more than 5 redirects/);
  await t.rejects(fetchPublic(lenient, `${origin}/ftp`), /not an http\(s\) URL/, 'a redirect to another scheme');
  await t.rejects(fetchPublic(lenient, 'file:///etc/passwd'), /not an http\(s\) URL/);
});
