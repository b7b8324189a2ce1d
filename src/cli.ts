/**
 * The admin CLI: `npm run farthing -- <command>`. Uses the same configuration (environment and
 * .env) and services as the server; long jobs show progress on a terminal.
 *
 * `runCli` is the whole command (arguments, environment and output streams in, exit code out);
 * run as a program, this module calls it with the process's own. Exit codes: 0 done, 1 the
 * ledger self-check failed or an unexpected error, 2 a refused command or bad configuration,
 * 3 the embedded database is in use by another process.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { MAX_STATEMENT_BYTES } from './banking/camt053.ts';
import { assignBankEntry, ignoreBankEntry, listBankEntries, parseEntryState } from './banking/entries.ts';
import { exportSepaBatch, parsePainVersion, sepaBatch } from './banking/sepa-export.ts';
import { importBankStatement } from './banking/statement-import.ts';
import { closePeriod, periodStatus } from './close/run.ts';
import { ConfigError, loadConfig, readDotEnv } from './config.ts';
import { AppError } from './core/errors.ts';
import { parseInput } from './core/input.ts';
import { parsePeriod } from './core/period.ts';
import { DataDirLockedError } from './db/data-dir-lock.ts';
import { toCsv } from './http/csv.ts';
import { createInstance, type Instance } from './instance.ts';
import { checkLedger } from './ledger/check.ts';
import { createInvite, ensureAdmin, setCharity } from './members/service.ts';
import { AdminPasswordInput, setPasswordByAdmin } from './members/sessions.ts';
import {
  acceptStatement,
  correctStatement,
  disputeStatement,
  listPeers,
  listStatements,
  PeerChangeInput,
  statementDocument,
  statementsCsv,
  updatePeer,
} from './settlement/admin.ts';
import { confirmReceived, listSettlements, markPaid, SettlementPaidInput, settlementsCsv } from './settlement/netting.ts';
import { DepositInput, listPayouts, markPayoutPaid, PayoutPaidInput, recordDeposit } from './wallet/service.ts';

const USAGE = `Farthing admin CLI

Usage: npm run farthing -- <command> [arguments]

  migrate                              run the database migrations
  admin create <username>              create an admin (password from FARTHING_NEW_PASSWORD or stdin)
  password <username>                  set a member's password (FARTHING_NEW_PASSWORD or stdin);
                                       revokes every session and token of theirs
  invite                               make an invite code
  deposit <username> <amount> <ref>    record a deposit ("10.00"); the same ref records once
  charity <username>                   make this account the instance's charity
  close <YYYY-MM>                      close a period (and any earlier one not yet closed)
  check                                run the ledger self-check
  payouts [--state requested|exported|paid]  list payouts
  payout-paid <id> <reference>         record that a payout has been sent

Bank rails (FARTHING_BANK_IBAN, FARTHING_BANK_HOLDER):
  import-bank <file.xml>               import the bank's camt.053 statement (again: nothing new)
  bank-entries [--state unmatched]     list imported bank entries
  bank-assign <entry> <username|RF…>   book an unmatched credit as that member's deposit
  bank-ignore <entry>                  set an unmatched entry aside
  payouts-sepa [--version 03|09] [--batch ID] [--out FILE]
                                       the requested payouts as a pain.001 file, to FILE or
                                       stdout (npm run -s …: without -s npm writes its banner
                                       to stdout before the file)

Settlement with other instances (the server delivers what these queue):
  statements [--direction in|out] [--period YYYY-MM]   list statements
  statement <id>                       print the signed document, byte for byte
  accept <id>                          accept a received statement
  dispute <id> <line> <reason>         dispute line <line> (0: the statement as a whole)
  correct <id>                         correct one of ours that the peer disputed
  settlements [--period YYYY-MM]       list settlements with their net and state
  settlement-paid <id> <reference>     record that this instance paid the net
  settlement-confirm <id>              confirm that the peer's payment arrived
  peers                                list the instances seen, their state, credit line and pending credits
  peer <origin> [--state trusted|pending|blocked] [--credit-line AMOUNT] [--owe-limit AMOUNT|none]
                                       decide about a peer: trust it (its statements then apply), block it...
  period <YYYY-MM>                     where a month's close stands (and why it stopped, if it failed)
  export statements|settlements [--format json|csv] [--period YYYY-MM]
`;

const STAGES = ['charging', 'splitting', 'booking', 'done'] as const;

/** Where a command writes: the process's streams, or a test's. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

async function readPassword(env: Record<string, string | undefined>): Promise<string> {
  if (env.FARTHING_NEW_PASSWORD) return env.FARTHING_NEW_PASSWORD;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const line = await rl[Symbol.asyncIterator]().next();
  rl.close();
  return String(line.value ?? '').trim();
}

/** Output printed as it is (a signed document, CSV), not as JSON. */
class Raw {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

type Options = {
  state?: string;
  direction?: string;
  period?: string;
  format?: string;
  version?: string;
  batch?: string;
  out?: string;
  'credit-line'?: string;
  'owe-limit'?: string;
};

function unreadable(file: string, error: Error): AppError {
  const why = (error as { code?: string }).code === 'ENOENT' ? 'there is no such file' : error.message;
  return new AppError('invalid_request', `cannot read ${file}: ${why}`);
}

/** A command's answer and, when it is not 0, its exit code (the self-check's failure). */
class Answer {
  readonly value: unknown;
  readonly code: number;
  constructor(value: unknown, code: number) {
    this.value = value;
    this.code = code;
  }
}

async function run(
  instance: Instance,
  command: string,
  args: string[],
  options: Options,
  io: CliIo,
  env: Record<string, string | undefined>,
): Promise<unknown> {
  const { ctx } = instance;
  const state = options.state;
  switch (command) {
    case 'migrate':
      return { migrated: true };
    case 'admin': {
      if (args[0] !== 'create' || !args[1]) throw new AppError('invalid_request', 'usage: admin create <username>');
      return ensureAdmin(ctx, args[1], await readPassword(env));
    }
    case 'password': {
      if (!args[0]) throw new AppError('invalid_request', 'usage: password <username>');
      return setPasswordByAdmin(ctx, parseInput(AdminPasswordInput, { username: args[0], password: await readPassword(env) }, 'arguments'));
    }
    case 'invite':
      return { code: await createInvite(ctx, null) };
    case 'deposit':
      return recordDeposit(ctx, parseInput(DepositInput, { username: args[0], amount: args[1], reference: args[2] }, 'arguments'));
    case 'charity':
      return setCharity(ctx, args[0]);
    case 'close': {
      const period = parsePeriod(args[0]);
      const bar = io.stderr.isTTY
        ? new cliProgress.SingleBar({ format: 'close {period} [{bar}] {stage}', hideCursor: true }, cliProgress.Presets.shades_classic)
        : undefined;
      bar?.start(STAGES.length - 1, 0, { period, stage: 'starting' });
      try {
        return await closePeriod(ctx, period, {
          onStage: (p, stage) => {
            if (bar) bar.update(STAGES.indexOf(stage), { period: p, stage });
            else io.stderr.write(`close ${p}: ${stage}\n`);
          },
        });
      } finally {
        bar?.stop();
      }
    }
    case 'check': {
      const result = await checkLedger(ctx.db);
      return result.balanced ? result : new Answer(result, 1);
    }
    case 'payouts':
      return { items: await listPayouts(ctx, state === 'requested' || state === 'exported' || state === 'paid' ? { state } : {}) };
    case 'payout-paid':
      return markPayoutPaid(ctx, args[0] ?? '', parseInput(PayoutPaidInput, { reference: args[1] }, 'arguments').reference);
    case 'import-bank': {
      const file = args[0];
      if (!file) throw new AppError('invalid_request', 'usage: import-bank <file.xml>');
      const size = (
        await stat(file).catch((error: Error) => {
          throw unreadable(file, error);
        })
      ).size;
      if (size > MAX_STATEMENT_BYTES) throw new AppError('payload_too_large', `a statement file is at most ${MAX_STATEMENT_BYTES / 1024 / 1024} MiB`);
      return importBankStatement(
        ctx,
        await readFile(file).catch((error: Error) => {
          throw unreadable(file, error);
        }),
      );
    }
    case 'bank-entries':
      return { items: await listBankEntries(ctx, { state: parseEntryState(state) }) };
    case 'bank-assign': {
      const who = args[1] ?? '';
      return assignBankEntry(ctx, args[0] ?? '', /^rf/i.test(who) ? { reference: who } : { username: who });
    }
    case 'bank-ignore':
      return ignoreBankEntry(ctx, args[0] ?? '');
    case 'payouts-sepa': {
      const result = options.batch
        ? { ...(await sepaBatch(ctx, options.batch)), left_out: [] }
        : await exportSepaBatch(ctx, { version: parsePainVersion(options.version) });
      io.stderr.write(`batch ${result.batch.id}: ${result.batch.payouts} payout(s), ${result.batch.total} ${ctx.config.currency}\n`);
      for (const l of result.left_out) io.stderr.write(`left out: payout ${l.id} of ${l.username} (${l.amount}): ${l.reason}\n`);
      if (options.out) {
        const out = options.out;
        await writeFile(out, result.document, { flag: 'wx' }).catch((error: Error & { code?: string }) => {
          const why = error.code === 'EEXIST' ? 'the file exists (a payout file is never overwritten)' : error.message;
          throw new AppError(
            'invalid_request',
            `cannot write ${out}: ${why}; batch ${result.batch.id} is made, write it with payouts-sepa --batch ${result.batch.id} --out <another file>`,
          );
        });
        return { batch: result.batch, file: options.out, left_out: result.left_out };
      }
      return new Raw(result.document);
    }
    case 'statements':
      return {
        items: await listStatements(ctx, {
          ...(options.direction === 'in' || options.direction === 'out' ? { direction: options.direction } : {}),
          ...(options.period ? { period: parsePeriod(options.period) } : {}),
        }),
      };
    case 'statement':
      return new Raw(await statementDocument(ctx, args[0] ?? ''));
    case 'accept':
      return acceptStatement(ctx, args[0] ?? '');
    case 'dispute':
      return disputeStatement(ctx, args[0] ?? '', [{ n: Number(args[1] ?? 0), reason: args.slice(2).join(' ') || 'disputed by the admin' }]);
    case 'correct':
      return correctStatement(ctx, args[0] ?? '');
    case 'settlements':
      return { items: await listSettlements(ctx, options.period ? { period: parsePeriod(options.period) } : {}) };
    case 'settlement-paid':
      return markPaid(ctx, args[0] ?? '', parseInput(SettlementPaidInput, { reference: args[1] }, 'arguments').reference);
    case 'settlement-confirm':
      return confirmReceived(ctx, args[0] ?? '');
    case 'peers':
      return { items: await listPeers(ctx) };
    case 'peer': {
      const change: Record<string, unknown> = {};
      if (options.state !== undefined) change.state = options.state;
      if (options['credit-line'] !== undefined) change.credit_line = options['credit-line'];
      if (options['owe-limit'] !== undefined) change.owe_limit = options['owe-limit'] === 'none' ? null : options['owe-limit'];
      return updatePeer(ctx, args[0] ?? '', parseInput(PeerChangeInput, change, 'options'));
    }
    case 'period':
      return periodStatus(ctx, parsePeriod(args[0]));
    case 'export': {
      const period = options.period ? parsePeriod(options.period) : undefined;
      if (args[0] === 'statements') {
        if (options.format === 'csv') {
          const [header, ...rows] = await statementsCsv(ctx, period ? { period } : {});
          return new Raw(toCsv(header as string[], rows));
        }
        // One signed document per line (JSON Lines), each byte for byte as issued or received.
        const items = await listStatements(ctx, period ? { period } : {});
        return new Raw((await Promise.all(items.map((i) => statementDocument(ctx, i.id)))).map((d) => `${d}\n`).join(''));
      }
      if (args[0] === 'settlements') {
        if (options.format === 'csv') {
          const [header, ...rows] = await settlementsCsv(ctx, period ? { period } : {});
          return new Raw(toCsv(header as string[], rows));
        }
        return { items: await listSettlements(ctx, period ? { period } : {}) };
      }
      throw new AppError('invalid_request', 'usage: export statements|settlements [--format json|csv] [--period YYYY-MM]');
    }
    default:
      throw new AppError('invalid_request', `unknown command "${command}"\n\n${USAGE}`);
  }
}

/** Runs one CLI command; answers its exit code. Errors are written to `io.stderr`, never thrown. */
export async function runCli(argv: string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  try {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        state: { type: 'string' },
        direction: { type: 'string' },
        period: { type: 'string' },
        format: { type: 'string' },
        version: { type: 'string' },
        batch: { type: 'string' },
        out: { type: 'string' },
        'credit-line': { type: 'string' },
        'owe-limit': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const [command, ...args] = positionals;
    if (!command || values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const config = loadConfig(env);
    // The CLI runs neither the automatic close nor the federation queue; the server does.
    const instance = await createInstance({ ...config, autoClose: false, logLevel: 'warn' }, { queueWorker: false });
    try {
      const result = await run(instance, command, args, values, io, env);
      const value = result instanceof Answer ? result.value : result;
      if (value instanceof Raw) io.stdout.write(value.text);
      else io.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
      return result instanceof Answer ? result.code : 0;
    } finally {
      await instance.close();
    }
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      io.stderr.write(`${error.message}\n`);
      return 3;
    }
    if (error instanceof ConfigError || error instanceof AppError) {
      io.stderr.write(`${error instanceof AppError ? `${error.code}: ${error.message}` : error.message}\n`);
      return 2;
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`invalid_request: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    io.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await runCli(process.argv.slice(2), { ...readDotEnv(), ...process.env }, { stdout: process.stdout, stderr: process.stderr });
  // A refused command may leave a connection it opened half-way: exit rather than wait for it.
  if (code !== 0) process.exit(code);
}
