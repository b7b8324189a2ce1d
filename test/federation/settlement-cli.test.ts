/**
 * The settlement commands of the admin CLI (`npm run farthing -- …`) against the databases of
 * two live instances: list, show the signed document byte for byte, accept, dispute, paid,
 * confirm, export, and the peers and period commands. PostgreSQL only: the CLI is another
 * instance sharing the server's database, which the embedded in-memory PGlite of the tests
 * cannot be. Each command runs through `runCli` (the program's whole body, with its own
 * instance and connections); two of them also run as their own processes, for the exit codes
 * and streams of the real program.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { runCli } from '../../src/cli.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { eventually, type NetworkedInstance } from '../helpers/network.ts';
import { balanced, closeBoth, pair, settlementOf } from '../helpers/settlement.ts';

const run = promisify(execFile);
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

function cliEnv(inst: NetworkedInstance) {
  return { PATH: process.env.PATH ?? '', DATABASE_URL: inst.database.url ?? '', FARTHING_ORIGIN: inst.origin, FARTHING_LOG_LEVEL: 'warn' };
}

/** Runs a CLI command on `inst`'s database; answers its exit code and output. */
async function cli(inst: NetworkedInstance, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, cliEnv(inst), {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

/** The same, as the program in a process of its own. */
async function cliProcess(inst: NetworkedInstance, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = cliEnv(inst);
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, cwd: '/' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

await eachDatabase(
  t,
  async (t, kind) => {
    const { a, b } = await pair(t, kind);
    await closeBoth(t, a, b, '2026-11', '2026-12-01T00:30:00Z');
    await eventually(
      async () => (await settlementOf(a, b, '2026-11'))?.state === 'accepted' && (await settlementOf(b, a, '2026-11'))?.state === 'accepted',
      30_000,
      'both statements accepted',
    );

    t.test('list and show: the signed document byte for byte', async (t) => {
      const listed = await cli(a, 'statements', '--direction', 'out', '--period', '2026-11');
      t.equal(listed.code, 0, listed.stderr);
      const items = JSON.parse(listed.stdout).items;
      t.equal(items.length, 1);
      t.match(items[0], { direction: 'out', peer: b.origin, period: '2026-11', state: 'accepted', total: '4.50' });
      const uuid = items[0].id.split('/').pop();
      const shown = await cliProcess(a, 'statement', uuid);
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
      const unknown = await cliProcess(b, 'accept', '00000000-0000-0000-0000-000000000000');
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
      const onB = await eventually(
        async () => {
          const s = await settlementOf(b, a, '2026-11');
          return s?.state === 'paid' && s;
        },
        20_000,
        'B told of the payment',
      );
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

    t.test('peers, peer and period: what the admin sees and decides from a terminal', async (t) => {
      const peers = await cli(a, 'peers');
      t.equal(peers.code, 0, peers.stderr);
      t.match(JSON.parse(peers.stdout).items, [{ origin: b.origin, state: 'trusted', credit_line: '0.00' }], 'B, trusted by FARTHING_PEERS');
      const changed = await cli(a, 'peer', b.origin, '--credit-line', '25.00', '--owe-limit', '100.00');
      t.equal(changed.code, 0, changed.stderr);
      t.match(JSON.parse(changed.stdout), { origin: b.origin, state: 'trusted', credit_line: '25.00', owe_limit: '100.00' });
      t.match(JSON.parse((await cli(a, 'peers')).stdout).items, [{ origin: b.origin, credit_line: '25.00', owe_limit: '100.00' }], 'kept');
      const unlimited = await cli(a, 'peer', b.origin, '--owe-limit', 'none');
      t.equal(JSON.parse(unlimited.stdout).owe_limit, null);
      const bad = await cli(a, 'peer', b.origin, '--state', 'friendly');
      t.equal(bad.code, 2, 'an unknown state is refused');
      t.match(bad.stderr, /^invalid_request: /);
      const badLine = await cli(a, 'peer', b.origin, '--credit-line', '-5');
      t.equal(badLine.code, 2, 'a negative credit line is refused');
      t.match(JSON.parse((await cli(a, 'peers')).stdout).items, [{ origin: b.origin, state: 'trusted', credit_line: '25.00' }], 'refusals changed nothing');
      const closed = await cli(a, 'period', '2026-11');
      t.equal(closed.code, 0, closed.stderr);
      t.match(JSON.parse(closed.stdout), { period: '2026-11', state: 'closed', stage: 'done', error: null, summary: { flattrs: 2 } });
      const open = await cli(a, 'period', '2026-12');
      t.match(JSON.parse(open.stdout), { period: '2026-12', state: 'open', stage: null, summary: null });
      const badPeriod = await cli(a, 'period', '2026-13');
      t.equal(badPeriod.code, 2);
    });
  },
  ['postgres'],
);
