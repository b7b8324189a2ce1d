/**
 * The admin CLI: `npm run farthing -- <command>`. Uses the same configuration (environment and
 * .env) and services as the server; long jobs show progress on a terminal.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { ConfigError, loadConfig } from './config.ts';
import { AppError } from './core/errors.ts';
import { parsePeriod } from './core/period.ts';
import { closePeriod } from './close/run.ts';
import { createInstance, type Instance } from './instance.ts';
import { checkLedger } from './ledger/check.ts';
import { createInvite, ensureAdmin, setCharity } from './members/service.ts';
import { listPayouts, markPayoutPaid, recordDeposit } from './wallet/service.ts';

const USAGE = `Farthing admin CLI

Usage: npm run farthing -- <command> [arguments]

  migrate                              run the database migrations
  admin create <username>              create an admin (password from FARTHING_NEW_PASSWORD or stdin)
  invite                               make an invite code
  deposit <username> <amount> <ref>    record a deposit ("10.00"); the same ref records once
  charity <username>                   make this account the instance's charity
  close <YYYY-MM>                      close a period (and any earlier one not yet closed)
  check                                run the ledger self-check
  payouts [--state requested|paid]     list payouts
  payout-paid <id> <reference>         record that a payout has been sent
`;

const STAGES = ['charging', 'splitting', 'booking', 'done'] as const;

async function readPassword(): Promise<string> {
  if (process.env.FARTHING_NEW_PASSWORD) return process.env.FARTHING_NEW_PASSWORD;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const line = await rl[Symbol.asyncIterator]().next();
  rl.close();
  return String(line.value ?? '').trim();
}

async function run(instance: Instance, command: string, args: string[], state?: string): Promise<unknown> {
  const { ctx } = instance;
  switch (command) {
    case 'migrate':
      return { migrated: true };
    case 'admin': {
      if (args[0] !== 'create' || !args[1]) throw new AppError('invalid_request', 'usage: admin create <username>');
      return ensureAdmin(ctx, args[1], await readPassword());
    }
    case 'invite':
      return { code: await createInvite(ctx, null) };
    case 'deposit':
      return recordDeposit(ctx, { username: args[0], amount: args[1], reference: args[2] });
    case 'charity':
      return setCharity(ctx, args[0]);
    case 'close': {
      const period = parsePeriod(args[0]);
      const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'close {period} [{bar}] {stage}', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
      bar?.start(STAGES.length - 1, 0, { period, stage: 'starting' });
      try {
        return await closePeriod(ctx, period, {
          onStage: (p, stage) => {
            if (bar) bar.update(STAGES.indexOf(stage), { period: p, stage });
            else process.stderr.write(`close ${p}: ${stage}\n`);
          },
        });
      } finally {
        bar?.stop();
      }
    }
    case 'check': {
      const result = await checkLedger(ctx.db);
      if (!result.balanced) process.exitCode = 1;
      return result;
    }
    case 'payouts':
      return { items: await listPayouts(ctx, state === 'requested' || state === 'paid' ? { state } : {}) };
    case 'payout-paid':
      return markPayoutPaid(ctx, args[0] ?? '', args[1]);
    default:
      throw new AppError('invalid_request', `unknown command "${command}"\n\n${USAGE}`);
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { state: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const [command, ...args] = positionals;
  if (!command || values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadConfig();
  // The CLI runs neither the automatic close nor the federation queue; the server does.
  const instance = await createInstance({ ...config, autoClose: false, logLevel: 'warn' }, { queueWorker: false });
  try {
    const result = await run(instance, command, args, values.state);
    process.stdout.write(`${JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  } finally {
    await instance.close();
  }
}

main().catch((error) => {
  if (error instanceof ConfigError || error instanceof AppError) {
    console.error(error instanceof AppError ? `${error.code}: ${error.message}` : error.message);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
