/**
 * The attacks of issue 14 on what a request carries, each as a test: control characters and lone
 * surrogates in bodies, queries and path parameters (400 invalid_request naming the field, on the
 * API and on page forms, nothing written); the error contract of every framework refusal (414 for
 * a long path part or URL, 404 and malformed bodies, a request head Node refuses) in the shape of
 * its surface; no request value in a response header (a CR/LF in /things/:id/button was a 500);
 * and CSV exports a spreadsheet cannot run, read back with both list separators.
 */
import { connect } from 'node:net';
import t from 'tap';
import { toCsv } from '../../src/http/csv.ts';
import { eachDatabase, rowCount } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { startWeb, textOf } from '../helpers/web.ts';

/** RFC 4180 as a spreadsheet reads it, with `sep` as the list separator (quotes honoured). */
function readCsv(text: string, sep: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === sep) {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}

/** A reader that ignores quotes altogether and splits every line on `sep`. */
function splitNaively(text: string, sep: string): string[] {
  return text
    .split(/\r?\n/)
    .flatMap((line) => line.split(sep))
    .map((cell) => cell.replace(/^"+|"+$/g, ''));
}

const TRIGGER = /^ *[=+\-@\t\r]/;
const NUMBER = /^[+-]?[0-9]+(\.[0-9]+)?$/;
function formulas(cells: string[]): string[] {
  return cells.filter((c) => TRIGGER.test(c) && !NUMBER.test(c.trim()));
}

t.test('CSV cells: quoted, formulas neutralised part by part, numbers kept', async (t) => {
  const text = toCsv(
    ['a', 'b', 'c', 'd'],
    [
      ["x;=cmd|' /C calc'!A0;@SUM(1+1)", '-1.50', '+cmd', 'a,-2, =1+1,\tTAB'],
      ['"quoted"', null, 7, '@'],
    ],
  );
  t.equal(text.split('\r\n')[0], '"a","b","c","d"', 'every cell quoted, the header too');
  t.match(text, `"x;'=cmd|' /C calc'!A0;'@SUM(1+1)"`, 'each part that starts a formula is prefixed');
  t.match(text, '"-1.50"', 'a plain negative number stays a number');
  t.match(text, `"a,-2,' =1+1,'\tTAB"`, 'numbers inside stay, a spaced formula and a tab do not');
  t.match(text, '"""quoted""","","7","\'@"');
  for (const sep of [',', ';']) {
    const cells = readCsv(text, sep).flat();
    t.same(formulas(cells), [], `read with '${sep}': no cell starts a formula`);
    t.same(formulas(splitNaively(text, sep)), [], `split naively on '${sep}': no part starts a formula`);
  }
  const back = readCsv(text, ',');
  t.equal(back[1]?.[1], '-1.50', 'the number reads back unchanged');
});

await eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind);
  const ann = await inst.member('ann', { deposit: '10.00', budget: '5.00' });
  const bob = await inst.member('bob');

  t.test('control characters and lone surrogates are 400 invalid_request naming the field, on the API', async (t) => {
    const before = await rowCount(inst.ctx.db, 'things');
    const cases: { name: string; method: string; url: string; token?: string; body?: unknown; raw?: string; field: string }[] = [
      {
        name: 'NUL in a thing title',
        method: 'POST',
        url: '/api/v1/things',
        token: ann,
        body: { url: 'https://ann.example/1', title: 'a\u0000b' },
        field: 'title',
      },
      {
        name: 'CR/LF in a thing title',
        method: 'POST',
        url: '/api/v1/things',
        token: ann,
        body: { url: 'https://ann.example/1', title: 'a\r\nb' },
        field: 'title',
      },
      {
        name: 'NUL in a deposit reference',
        method: 'POST',
        url: '/api/v1/admin/deposits',
        token: inst.adminToken,
        body: { username: 'ann', amount: '1.00', reference: 'r\u0000' },
        field: 'reference',
      },
      {
        name: 'NUL in an app name',
        method: 'POST',
        url: '/api/v1/apps',
        body: { client_name: 'App\u0000', redirect_uris: 'https://app.example/cb' },
        field: 'client_name',
      },
      {
        name: 'NUL in the sign-in username',
        method: 'POST',
        url: '/api/v1/tokens',
        body: { username: 'ann\u0000', password: 'ann-password' },
        field: 'username',
      },
      {
        name: 'a lone surrogate in the sign-in username',
        method: 'POST',
        url: '/api/v1/tokens',
        raw: '{"username":"\\ud800","password":"x"}',
        field: 'username',
      },
      {
        name: 'a lone low surrogate in a title',
        method: 'POST',
        url: '/api/v1/things',
        token: ann,
        raw: '{"url":"https://ann.example/2","title":"x\\udc00"}',
        field: 'title',
      },
      {
        name: 'DEL in a nested field',
        method: 'POST',
        url: '/api/v1/admin/statements/1/dispute',
        token: inst.adminToken,
        body: { lines: [{ n: 0, reason: 'no\u007f' }] },
        field: 'lines.0.reason',
      },
      { name: 'ESC in a query', method: 'GET', url: '/api/v1/things/lookup?url=https%3A%2F%2Fx.example%2F%1B', field: 'url' },
      { name: 'NUL in a path parameter', method: 'DELETE', url: '/api/v1/flattrs/1%00', token: ann, field: 'id' },
    ];
    for (const c of cases) {
      const headers: Record<string, string> = c.raw ? { 'content-type': 'application/json' } : {};
      if (c.token) headers.authorization = `Bearer ${c.token}`;
      const r = await inst.app.inject({
        method: c.method as 'POST',
        url: c.url,
        headers,
        ...(c.raw ? { payload: c.raw } : c.body ? { payload: c.body as object } : {}),
      });
      const body = JSON.parse(r.body);
      t.equal(r.statusCode, 400, `${c.name}: 400 (${r.body.slice(0, 160)})`);
      t.equal(body.error.code, 'invalid_request', `${c.name}: invalid_request`);
      t.equal(body.error.field, c.field, `${c.name}: names ${c.field}`);
    }
    const after = await rowCount(inst.ctx.db, 'things');
    t.equal(after, before, 'no thing was written');

    const tabs = await inst.api('POST', '/api/v1/apps', { body: { client_name: 'Lines', redirect_uris: 'https://app.example/a\r\n\thttps://app.example/b' } });
    t.equal(tabs.status, 200, 'a multi-line field takes tab, CR and LF');
    t.same(tabs.body.redirect_uris, ['https://app.example/a', 'https://app.example/b']);
    const nulInList = await inst.api('POST', '/api/v1/apps', { body: { client_name: 'Lines', redirect_uris: ['https://app.example/a\u0000'] } });
    t.equal(nulInList.status, 400, 'but never NUL');
    const key = await inst.app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization: `Bearer ${ann}`, 'content-type': 'application/json' },
      payload: '{"url":"https://ann.example/3","\\u0000":1}',
    });
    t.equal(key.statusCode, 201, 'an unknown key is dropped by the schema, whatever it holds');
    const oauth = await inst.app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'authorization_code', code: 'x\u0000' } });
    t.equal(oauth.statusCode, 400);
    t.equal(JSON.parse(oauth.body).error, 'invalid_request', "OAuth's endpoints answer in OAuth's shape");
  });

  t.test('on the pages: an HTML error page, the form not sent', async (t) => {
    const b = inst.browser();
    await b.get('/signin');
    const nul = await b.post('/signin', { username: 'ann\u0000', password: 'ann-password' });
    t.equal(nul.status, 400);
    t.match(nul.headers['content-type'], /text\/html/);
    t.match(textOf(nul), /username contains the control character U\+0000 \(invalid_request\)/);
    t.notOk(b.cookies.has('farthing_session') || b.cookies.has('__Host-farthing_session'), 'not signed in');
    // A form cannot carry a lone surrogate: its bytes decode to U+FFFD, which is text.
    const surrogate = await b.post('/signin', { username: '\ud800', password: 'x' });
    t.equal(surrogate.status, 401, 'a lone surrogate in a form arrives as U+FFFD: a wrong username, not a 500');
    const query = await b.get('/signin?next=%00');
    t.equal(query.status, 400, 'NUL in a page query');
    t.match(textOf(query), /\?next contains the control character U\+0000/);
  });

  t.test('the error contract: every framework refusal in the shape of its surface', async (t) => {
    const longParam = await inst.api('DELETE', `/api/v1/flattrs/${'x'.repeat(150)}`, { token: ann });
    t.equal(longParam.status, 414);
    t.same(Object.keys(longParam.body.error).sort(), ['code', 'message']);
    t.equal(longParam.body.error.code, 'uri_too_long');
    const longPage = await inst.app.inject({ url: `/things/${'x'.repeat(150)}/button` });
    t.equal(longPage.statusCode, 414);
    t.match(longPage.headers['content-type'], /text\/html/, 'a page path gets an HTML page');
    t.match(longPage.body, /uri_too_long/);
    t.match(String(longPage.headers['content-security-policy']), /default-src 'none'/, "with the pages' headers");
    const longUrl = await inst.api('GET', `/api/v1/me?x=${'y'.repeat(9000)}`, { token: ann });
    t.equal(longUrl.status, 414);
    t.equal(longUrl.body.error.code, 'uri_too_long');
    const longPageUrl = await inst.app.inject({ url: `/popular?x=${'y'.repeat(9000)}` });
    t.equal(longPageUrl.statusCode, 414);
    t.match(longPageUrl.headers['content-type'], /text\/html/);

    const missingPage = await inst.app.inject({ url: '/nothing-here' });
    t.equal(missingPage.statusCode, 404);
    t.match(missingPage.headers['content-type'], /text\/html/, 'a page 404 is HTML');
    t.match(missingPage.body, /Not found/);
    const missingApi = await inst.api('GET', '/api/v1/nothing-here');
    t.equal(missingApi.body.error.code, 'not_found');
    const badJson = await inst.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { 'content-type': 'application/json' }, payload: '{' });
    t.equal(badJson.statusCode, 400);
    t.equal(JSON.parse(badJson.body).error.code, 'invalid_request');
    const badType = await inst.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { 'content-type': 'text/plain' }, payload: 'x' });
    t.equal(badType.statusCode, 415);
    t.equal(JSON.parse(badType.body).error.code, 'unsupported_media_type');
    const badTypePage = await inst.app.inject({ method: 'POST', url: '/signin', headers: { 'content-type': 'application/xml' }, payload: '<x/>' });
    t.equal(badTypePage.statusCode, 415);
    t.match(badTypePage.headers['content-type'], /text\/html/);
    const emptyJson = await inst.app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization: `Bearer ${ann}`, 'content-type': 'application/json' },
      payload: '',
    });
    t.equal(emptyJson.statusCode, 400);
    t.equal(JSON.parse(emptyJson.body).error.code, 'invalid_request');
    const tooLarge = await inst.app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization: `Bearer ${ann}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ url: 'x'.repeat(70_000) }),
    });
    t.equal(tooLarge.statusCode, 413);
    t.equal(JSON.parse(tooLarge.body).error.code, 'payload_too_large');

    // A request head Node itself refuses (over 16 KB): answered by fastify's clientErrorHandler.
    const address = await inst.app.listen({ port: 0, host: '127.0.0.1' });
    const port = Number(new URL(address).port);
    const raw = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString('latin1')));
        socket.on('end', () => resolve(data));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${'z'.repeat(20_000)}\r\n\r\n`);
      });
    const apiHead = await raw('/api/v1/me');
    t.match(apiHead, /^HTTP\/1\.1 431 /);
    t.match(apiHead, /\{"error":\{"code":"header_fields_too_large","message":"[^"]+"\}\}/);
    const pageHead = await raw('/dashboard');
    t.match(pageHead, /^HTTP\/1\.1 431 /);
    t.match(pageHead, /text\/html/);
  });

  t.test('no request value reaches a response header', async (t) => {
    const b = inst.browser();
    await b.get('/signin'); // a CSRF token for a visitor
    const crlf = await b.post('/things/a%0d%0aSet-Cookie:%20x=1/button');
    t.equal(crlf.status, 400, `CR/LF in /things/:id/button: 400, not 500 (${crlf.status})`);
    t.notOk(crlf.headers['set-cookie'] && String(crlf.headers['set-cookie']).includes('x=1'));
    const unicode = await b.post('/things/%C5%82%F0%9F%98%80/button');
    t.equal(unicode.status, 303, 'a path id outside Latin-1 goes back percent-encoded');
    t.equal(unicode.location, '/things/%C5%82%F0%9F%98%80/button');
    const signin = await b.get('/signin?next=%2F%C5%82');
    t.equal(signin.status, 200);
    const back = await b.post('/signin', { username: 'bob', password: 'bob-password', next: '/\u0142' });
    t.equal(back.status, 303);
    t.equal(back.location, '/dashboard', 'a next outside printable ASCII falls back to the dashboard');
    void bob;
  });

  t.test('CSV exports read back with both separators run no formula', async (t) => {
    const owner = await inst.member('cid');
    const id = await thing(inst, owner, 'https://cid.example/x', "x;=cmd|' /C calc'!A0;@SUM(1+1)");
    t.equal((await inst.api('POST', '/api/v1/flattrs', { token: ann, body: { thing_id: id } })).status, 201);
    const csv = await inst.api('GET', '/api/v1/me/flattrs?format=csv', { token: ann });
    t.equal(csv.status, 200);
    t.match(csv.text, `"x;'=cmd|' /C calc'!A0;'@SUM(1+1)"`);
    for (const sep of [',', ';']) {
      t.same(formulas(readCsv(csv.text, sep).flat()), [], `read with '${sep}'`);
      t.same(formulas(splitNaively(csv.text, sep)), [], `split on '${sep}'`);
    }
    const row = readCsv(csv.text, ',')[1] as string[];
    t.equal(row[4], "x;'=cmd|' /C calc'!A0;'@SUM(1+1)", 'the title reads back as one cell');
  });
});
