/**
 * Exporting the requested payouts as a SEPA credit transfer file. In one transaction, under the
 * payouts' row locks: every requested payout that can go by SEPA gets an EndToEndId and the
 * batch's id and becomes `exported`; the file is stored as it was handed out. A payout is in at
 * most one batch (the state and the lock see to it), and downloading a batch again gives the same
 * bytes. Payouts that cannot go by SEPA stay requested and are listed with the reason (the admin
 * pays them by hand, as before).
 *
 * The money stays in the payouts account while exported; it leaves (payouts → external) when
 * the bank's statement shows the debit (statement-import.ts) or the admin marks it paid.
 */
import { randomBytes } from 'node:crypto';
import { isSEPACountry } from 'ibantools';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { formatAmount, MICROS_PER_UNIT } from '../core/money.ts';
import type { Executor } from '../ledger/accounts.ts';
import { buildPain001, type PainVersion } from './pain001.ts';

const CENT_MICROS = MICROS_PER_UNIT / 100n;
/** The largest amount of one SEPA credit transfer: 999,999,999.99. */
const MAX_SEPA_MICROS = 999_999_999_990_000n;

export interface LeftOut {
  id: string;
  username: string;
  amount: string;
  reason: string;
}

export interface BatchView {
  id: string;
  created_at: string;
  payouts: number;
  total: string;
  /** How many of its payouts the bank has shown leaving (or the admin marked paid). */
  paid: number;
}

export interface SepaExport {
  batch: BatchView;
  document: string;
  /** true when no payout was waiting and this is the latest batch still being paid, as before. */
  again: boolean;
  left_out: LeftOut[];
}

export function parsePainVersion(value: unknown): PainVersion {
  if (value === undefined || value === '' || value === '03' || value === '001.001.03') return '001.001.03';
  if (value === '09' || value === '001.001.09') return '001.001.09';
  throw new AppError('invalid_request', 'version must be 03 (pain.001.001.03, the default) or 09 (pain.001.001.09)', { field: 'version' });
}

/** Why a payout cannot go by SEPA, or undefined when it can. */
function sepaProblem(payout: { amount: bigint; iban: string | null }): string | undefined {
  if (!payout.iban) return 'the member has given no payout account';
  if (!isSEPACountry(payout.iban.slice(0, 2))) return `the payout account ${payout.iban.slice(0, 2)}… is outside the SEPA area`;
  if (payout.amount % CENT_MICROS !== 0n) return `${formatAmount(payout.amount)} has fractions of a cent, which a SEPA transfer cannot move`;
  if (payout.amount > MAX_SEPA_MICROS) return 'more than a SEPA transfer can move (999999999.99)';
  return undefined;
}

function requireSepaBank(ctx: Context) {
  const bank = ctx.config.bank;
  if (!bank)
    throw new AppError('bank_not_configured', 'this instance has no bank account: set FARTHING_BANK_IBAN and FARTHING_BANK_HOLDER to export SEPA files');
  if (ctx.config.currency !== 'EUR')
    throw new AppError('bank_not_configured', `SEPA credit transfers are in euros; this instance keeps ${ctx.config.currency}`);
  return bank;
}

/** The requested payouts that cannot go by SEPA, with why. */
export async function payoutsLeftOut(ctx: Context): Promise<LeftOut[]> {
  const rows = await requestedPayouts(ctx.db);
  return rows.flatMap((p) => {
    const reason = sepaProblem(p);
    return reason ? [{ id: p.id, username: p.username, amount: formatAmount(p.amount), reason }] : [];
  });
}

function requestedPayouts(db: Executor) {
  return db
    .selectFrom('payouts')
    .innerJoin('members', 'members.id', 'payouts.member_id')
    .leftJoin('payout_accounts', 'payout_accounts.member_id', 'payouts.member_id')
    .select(['payouts.id', 'payouts.amount', 'payouts.requested_at', 'members.username', 'payout_accounts.iban', 'payout_accounts.holder'])
    .where('payouts.state', '=', 'requested')
    .orderBy('payouts.requested_at')
    .orderBy('payouts.id')
    .limit(5000)
    .execute();
}

/**
 * Exports the requested payouts as a new batch; with none waiting, answers the latest batch
 * whose payouts are not all paid yet, byte for byte. 404 when there is neither.
 */
export async function exportSepaBatch(ctx: Context, options: { version?: PainVersion } = {}): Promise<SepaExport> {
  const bank = requireSepaBank(ctx);
  const now = ctx.clock.now();
  const created = await ctx.db.transaction().execute(async (trx) => {
    const locked = await trx.selectFrom('payouts').select(['id']).where('state', '=', 'requested').orderBy('id').forUpdate().execute();
    if (locked.length === 0) return undefined;
    const rows = await requestedPayouts(trx);
    const ready = rows.filter((p) => !sepaProblem(p));
    if (ready.length === 0) return undefined;
    const id = `FARTHING-${now.toISOString().slice(0, 19).replace(/[-:]/g, '')}-${randomBytes(3).toString('hex').toUpperCase()}`;
    const transfers = ready.map((p) => ({
      payout: p,
      endToEndId: p.id.replace(/-/g, ''),
      amount: p.amount,
      iban: p.iban as string,
      holder: p.holder as string,
      remittance: `${bank.holder} payout to ${p.username}`,
    }));
    const document = buildPain001({
      version: options.version ?? '001.001.03',
      messageId: id,
      createdAt: now,
      executionDate: now.toISOString().slice(0, 10),
      debtor: { name: bank.holder, iban: bank.iban, bic: bank.bic },
      transfers,
    });
    const total = transfers.reduce((sum, t) => sum + t.amount, 0n);
    await trx.insertInto('sepa_batches').values({ id, created_at: now, payouts: transfers.length, total, document }).execute();
    for (const t of transfers) {
      await trx
        .updateTable('payouts')
        .set({ state: 'exported', sepa_batch_id: id, end_to_end_id: t.endToEndId, iban: t.iban, holder: t.holder })
        .where('id', '=', t.payout.id)
        .where('state', '=', 'requested')
        .execute();
    }
    return id;
  });
  const left_out = await payoutsLeftOut(ctx);
  if (created) {
    const found = await sepaBatch(ctx, created);
    return { ...found, again: false, left_out };
  }
  const outstanding = await ctx.db
    .selectFrom('sepa_batches')
    .select('id')
    .where((eb) =>
      eb.exists(
        eb.selectFrom('payouts').select('payouts.id').whereRef('payouts.sepa_batch_id', '=', 'sepa_batches.id').where('payouts.state', '=', 'exported'),
      ),
    )
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (!outstanding) {
    throw new AppError(
      'not_found',
      left_out.length
        ? `no payout can go by SEPA now: ${left_out.length} requested payout(s) are left out (see GET /api/v1/admin/payouts/sepa/batches)`
        : 'no requested payouts to export, and every earlier SEPA file is paid',
    );
  }
  return { ...(await sepaBatch(ctx, outstanding.id)), again: true, left_out };
}

/** One stored batch and its file, as it was handed out. */
export async function sepaBatch(ctx: Context, id: string): Promise<{ batch: BatchView; document: string }> {
  if (typeof id !== 'string' || id.length > 35) throw new AppError('not_found', 'no such SEPA batch');
  const row = await ctx.db.selectFrom('sepa_batches').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('not_found', 'no such SEPA batch');
  const [batch] = await batchViews(ctx, [row.id]);
  return { batch: batch as BatchView, document: row.document };
}

async function batchViews(ctx: Context, ids?: string[]): Promise<BatchView[]> {
  let query = ctx.db
    .selectFrom('sepa_batches')
    .leftJoin('payouts', 'payouts.sepa_batch_id', 'sepa_batches.id')
    .select((eb) => [
      'sepa_batches.id',
      'sepa_batches.created_at',
      'sepa_batches.payouts',
      'sepa_batches.total',
      eb.fn.count<string>('payouts.id').filterWhere('payouts.state', '=', 'paid').as('paid'),
    ])
    .groupBy(['sepa_batches.id', 'sepa_batches.created_at', 'sepa_batches.payouts', 'sepa_batches.total']);
  if (ids) query = query.where('sepa_batches.id', 'in', ids);
  const rows = await query.orderBy('sepa_batches.created_at', 'desc').orderBy('sepa_batches.id', 'desc').limit(200).execute();
  return rows.map((r) => ({ id: r.id, created_at: r.created_at.toISOString(), payouts: r.payouts, total: formatAmount(r.total), paid: Number(r.paid) }));
}

/** The batches, newest first, and the requested payouts a new batch would leave out. */
export async function listSepaBatches(ctx: Context): Promise<{ items: BatchView[]; left_out: LeftOut[] }> {
  return { items: await batchViews(ctx), left_out: await payoutsLeftOut(ctx) };
}
