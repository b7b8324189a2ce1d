/**
 * The settlement commands of the admin CLI (`npm run farthing -- …`), run as their own processes
 * against the databases of two live instances: list, show the signed document byte for byte,
 * accept, dispute, paid, confirm, export. PostgreSQL only: the CLI is another process sharing
 * the instance's database, which the embedded in-memory PGlite of the tests cannot be.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { eventually, type NetworkedInstance } from '../helpers/network.ts';
import { balanced, closeBoth, pair, settlementOf } from '../helpers/settlement.ts';

const run = promisify(execFile);
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

/** Runs the CLI on `inst`'s database; answers its exit code and output. */
async function cli(inst: NetworkedInstance, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: process.env.PATH ?? '', DATABASE_URL: inst.database.url ?? '', FARTHING_ORIGIN: inst.origin, FARTHING_LOG_LEVEL: 'warn' };
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, cwd: '/' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

await eachDatabase(t, async (t, kind) => {
  const { a, b } = await pair(t, kind);
  await closeBoth(t, a, b, '2026-11', '2026-12-01T00:30:00Z');
  await eventually(async () => (await settlementOf(a, b, '2026-11'))?.state === 'accepted' && (await settlementOf(b, a, '2026-11'))?.state === 'accepted', 30_000, 'both statements accepted');

  t.test('list and show: the signed document byte for byte', async (t) => {
    const listed = await cli(a, 'statements', '--direction', 'out', '--period', '2026-11');
    t.equal(listed.code, 0, listed.stderr);
    const items = JSON.parse(listed.stdout).items;
    t.equal(items.length, 1);
    t.match(items[0], { direction: 'out', peer: b.origin, period: '2026-11', state: 'accepted', total: '4.50' });
    const uuid = items[0].id.split('/').pop();
    const shown = await cli(a, 'statement', uuid);
    t.equal(shown.code, 0, shown.stderr);
    t.equal(shown.stdout, (await a.api('GET', `/api/v1/admin/statements/${uuid}`, { token: a.adminToken })).text, 'as the API serves it');
    const settlements = await cli(a, 'settlements', '--period', '2026-11');
    t.match(JSON.parse(settlements.stdout).items, [{ peer: b.origin, state: 'accepted', net: '1.80', debtor: 'us', due: '1.80' }]);
  });

  t.test('accept and dispute: a decided statement stays decided', async (t) => {
    const received = JSON.parse((await cli(b, 'statements', '--direction', 'in')).stdout).items[0];
    const uuid = received.id.split('/').pop();
    const accepted = await cli(b, 'accept', uuid);
    t.equal(accepted.code, 0, accepted.stderr);
    t.equal(JSON.parse(accepted.stdout).state, 'accepted', 'accepting again answers as before');
    const disputed = await cli(b, 'dispute', uuid, '1', 'too much');
    t.equal(disputed.code, 2);
    t.match(disputed.stderr, /^period_closed: the statement is accepted/);
    const unknown = await cli(b, 'accept', '00000000-0000-0000-0000-000000000000');
    t.equal(unknown.code, 2);
    t.match(unknown.stderr, /^not_found/);
  });

  t.test('paid on the debtor, confirm on the creditor: settled on both sides', async (t) => {
    const onA = await settlementOf(a, b, '2026-11');
    const refused = await cli(b, 'settlement-paid', (await settlementOf(b, a, '2026-11')).id, 'NOT-MINE');
    t.equal(refused.code, 2, 'the creditor does not pay');
    t.match(refused.stderr, /^forbidden/);
    const paid = await cli(a, 'settlement-paid', onA.id, 'CLI-SEPA-1');
    t.equal(paid.code, 0, paid.stderr);
    t.match(JSON.parse(paid.stdout), { state: 'paid', reference: 'CLI-SEPA-1', due: '1.80' });
    // The server's relay delivers what the CLI queued.
    const onB = await eventually(async () => {
      const s = await settlementOf(b, a, '2026-11');
      return s?.state === 'paid' && s;
    }, 20_000, 'B told of the payment');
    const confirmed = await cli(b, 'settlement-confirm', onB.id);
    t.equal(confirmed.code, 0, confirmed.stderr);
    t.equal(JSON.parse(confirmed.stdout).state, 'settled');
    await eventually(async () => (await settlementOf(a, b, '2026-11'))?.state === 'settled', 20_000, 'A told of the confirmation');
    await balanced(t, a, 'after the CLI settled');
    await balanced(t, b, 'after the CLI settled');
  });

  t.test('export: statements as JSON Lines of the signed documents, settlements as CSV', async (t) => {
    const lines = await cli(a, 'export', 'statements', '--period', '2026-11');
    t.equal(lines.code, 0, lines.stderr);
    const documents = lines.stdout.trimEnd().split('\n');
    const stored = await a.ctx.db.selectFrom('statements').select('document').where('period', '=', '2026-11').execute();
    t.same(documents.sort(), stored.map((s) => s.document).sort(), 'each line is a stored document, byte for byte');
    const csv = await cli(a, 'export', 'settlements', '--format', 'csv');
    t.equal(csv.code, 0, csv.stderr);
    const [header, ...rows] = csv.stdout.trimEnd().split('\r\n');
    t.equal(header, '"id","peer","period","payable","receivable","net","debtor","state","reference","due","due_debtor","covers","paid_with"');
    t.equal(rows.length, 1);
    t.match(rows[0], `,"${b.origin}","2026-11","4.50","2.70","1.80","us","settled","CLI-SEPA-1","1.80","us","2026-11","2026-11"`);
    const csvStatements = await cli(a, 'export', 'statements', '--format', 'csv', '--period', '2026-11');
    t.match(csvStatements.stdout, /^"statement","direction","peer","sequence","period","state","line","creator","claimed_account","flattrs","amount"\r\n/);
  });
}, ['postgres']);
