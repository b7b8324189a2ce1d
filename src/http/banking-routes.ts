/**
 * The bank rails in the JSON API: a member's deposit instructions and payout account; the
 * admin's statement import (a camt.053 body, `application/xml`), the entries it could not match,
 * and the SEPA payout file. The statement upload lives in its own encapsulated plugin, the only
 * place where the API takes XML, with its own body limit.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_STATEMENT_BYTES } from '../banking/camt053.ts';
import { depositInstructions } from '../banking/deposit-instructions.ts';
import { AssignEntryInput, assignBankEntry, ignoreBankEntry, listBankEntries, parseEntryState } from '../banking/entries.ts';
import { PayoutAccountInput, payoutAccountOf, setPayoutAccount } from '../banking/payout-account.ts';
import { exportSepaBatch, listSepaBatches, parsePainVersion, sepaBatch } from '../banking/sepa-export.ts';
import { importBankStatement } from '../banking/statement-import.ts';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { callerOf } from './auth.ts';
import { Amount, errors, Id } from './schemas.ts';

const DepositInstructions = z
  .object({
    iban: z.string().nullable().describe("The instance's IBAN; null: deposits are arranged with the admin."),
    bic: z.string().nullable(),
    holder: z.string().nullable(),
    reference: z.string().describe("The member's permanent transfer reference (ISO 11649 RF creditor reference)."),
    currency: z.string(),
    amount: Amount.nullable(),
    epc_payload: z.string().nullable().describe('The EPC QR code (GiroCode, EPC069-12) payload; null without bank details or outside EUR.'),
    qr_svg: z.string().nullable().describe('The EPC QR code as an SVG document.'),
  })
  .meta({ id: 'DepositInstructions' });

const PayoutAccount = z.object({ iban: z.string(), holder: z.string(), updated_at: z.string() }).meta({ id: 'PayoutAccount' });

const BankEntry = z
  .object({
    id: z.string().nullable(),
    entry_ref: z.string().nullable().describe("The bank's reference for the entry (AcctSvcrRef, else NtryRef)."),
    direction: z.enum(['credit', 'debit']),
    amount: Amount,
    booked_on: z.string().nullable(),
    member: z.string().nullable(),
    payouts: z.array(z.string()),
    counterparty: z.string().nullable(),
    remittance: z.string().nullable(),
    state: z.enum(['deposited', 'paid_out', 'unmatched', 'assigned', 'ignored']).nullable(),
    reason: z.string().nullable(),
    decided_at: z.string().nullable().optional(),
  })
  .meta({ id: 'BankEntry', description: 'An entry of the bank account as imported from a camt.053 statement.' });

const ImportResult = z.object({
  import_id: z.string().nullable(),
  message_id: z.string(),
  version: z.string(),
  matched: z.array(BankEntry),
  unmatched: z.array(BankEntry),
  duplicates: z.array(BankEntry),
  skipped: z.array(BankEntry),
});

const SepaBatch = z
  .object({ id: z.string(), created_at: z.string(), payouts: z.number().int(), total: Amount, paid: z.number().int() })
  .meta({ id: 'SepaBatch' });
const LeftOut = z.object({ id: z.string(), username: z.string(), amount: Amount, reason: z.string() });

export async function bankingApiRoutes(app: FastifyInstance, ctx: Context): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['wallet'];

  api.get(
    '/api/v1/me/deposit-instructions',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: "How to fund the wallet by bank transfer: the instance's account, the member's reference, an EPC QR code (?amount= puts an amount in it)",
        querystring: z.object({ amount: Amount.optional() }),
        response: { 200: DepositInstructions, ...errors(400, 401) },
      },
    },
    async (request) => depositInstructions(ctx, callerOf(request), request.query.amount),
  );

  api.put(
    '/api/v1/me/payout-account',
    {
      config: { access: 'account' },
      schema: {
        tags,
        summary: 'Where payouts are sent by SEPA credit transfer: an IBAN (checked) and the account holder',
        body: PayoutAccountInput,
        response: { 200: PayoutAccount, ...errors(400, 401) },
      },
    },
    async (request) => setPayoutAccount(ctx, callerOf(request), request.body),
  );

  api.get(
    '/api/v1/me/payout-account',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: "The caller's payout account",
        response: { 200: PayoutAccount, ...errors(401, 404) },
      },
    },
    async (request) => {
      const account = await payoutAccountOf(ctx.db, callerOf(request).id);
      if (!account) throw new AppError('not_found', 'no payout account yet: PUT /api/v1/me/payout-account {iban, holder}');
      return account;
    },
  );

  // The statement upload: XML bytes, its own body limit, nothing else parsed here.
  await app.register(async (upload) => {
    upload.addContentTypeParser(['application/xml', 'text/xml'], { parseAs: 'buffer', bodyLimit: MAX_STATEMENT_BYTES }, (_request, body, done) =>
      done(null, body),
    );
    upload.withTypeProvider<ZodTypeProvider>().post(
      '/api/v1/admin/bank-statements',
      {
        config: { access: 'admin' },
        bodyLimit: MAX_STATEMENT_BYTES,
        schema: {
          tags: ['admin'],
          summary:
            "Import the bank's camt.053 statement (body: the file, Content-Type application/xml): matched transfers become deposits, debits of exported payouts mark them paid; again is harmless; a bad file is 400 and records nothing",
          response: { 200: ImportResult, ...errors(400, 401, 403, 409, 413, 415) },
        },
      },
      async (request) => {
        if (!Buffer.isBuffer(request.body))
          throw new AppError('unsupported_media_type', 'send the camt.053 file itself as the body, with Content-Type: application/xml');
        return importBankStatement(ctx, request.body);
      },
    );
  });

  api.get(
    '/api/v1/admin/bank-entries',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Imported bank entries, newest first (?state=unmatched: those waiting for the admin)',
        querystring: z.object({ state: z.string().optional() }),
        response: { 200: z.object({ items: z.array(BankEntry) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => ({ items: await listBankEntries(ctx, { state: parseEntryState(request.query.state) }) }),
  );

  api.post(
    '/api/v1/admin/bank-entries/:id/assign',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Book an unmatched credit as the deposit of a member, named by username or transfer reference',
        params: z.object({ id: Id }),
        body: AssignEntryInput,
        response: { 200: BankEntry, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => assignBankEntry(ctx, request.params.id, request.body),
  );

  api.post(
    '/api/v1/admin/bank-entries/:id/ignore',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Set an unmatched entry aside: it books nothing',
        params: z.object({ id: Id }),
        response: { 200: BankEntry, ...errors(401, 403, 404, 409) },
      },
    },
    async (request) => ignoreBankEntry(ctx, request.params.id),
  );

  api.get(
    '/api/v1/admin/payouts/sepa',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary:
          'The requested payouts as a SEPA credit transfer file (pain.001.001.03, ?version=09 for .09), which makes them exported; with none waiting, the latest unpaid file again, byte for byte; ?batch= a given file; ?format=json wraps it',
        querystring: z.object({ version: z.string().optional(), batch: z.string().optional(), format: z.enum(['xml', 'json']).optional() }),
        response: {
          200: {
            description: 'The pain.001 file (application/xml), or with ?format=json the batch, the file and the payouts left out.',
            content: {
              'application/json': { schema: z.object({ batch: SepaBatch, document: z.string(), again: z.boolean(), left_out: z.array(LeftOut) }) },
              'application/xml': { schema: z.string() },
            },
          },
          ...errors(400, 401, 403, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const { batch, version, format } = request.query;
      const result = batch
        ? { ...(await sepaBatch(ctx, batch)), again: true, left_out: [] }
        : await exportSepaBatch(ctx, { version: parsePainVersion(version) });
      if (format === 'json') return result;
      return reply
        .type('application/xml; charset=utf-8')
        .header('content-disposition', `attachment; filename="${result.batch.id}.xml"`)
        .header('x-farthing-batch', result.batch.id)
        .header('x-farthing-left-out', String(result.left_out.length))
        .send(result.document);
    },
  );

  api.get(
    '/api/v1/admin/payouts/sepa/batches',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The SEPA files exported so far, and the requested payouts a new file would leave out (with why)',
        response: { 200: z.object({ items: z.array(SepaBatch), left_out: z.array(LeftOut) }), ...errors(401, 403) },
      },
    },
    async () => listSepaBatches(ctx),
  );
}
