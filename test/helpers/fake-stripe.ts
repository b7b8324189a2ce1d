/**
 * A local fake of the Stripe API for the card top-up tests: a small HTTP server on loopback that the
 * official client reaches through its host, port and protocol options (FARTHING_STRIPE_API_URL).
 * It implements only what the instance calls: POST /v1/checkout/sessions, GET
 * /v1/checkout/sessions/:id (with payment_intent.latest_charge.balance_transaction expanded),
 * GET /v1/charges/:id and GET /v1/disputes/:id. The test plays the payer and Stripe's back office
 * with pay(), refund() and loseDispute(), and signs events as Stripe does (signedEvent()).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export const FAKE_SECRET_KEY = 'sk_test_farthingfake0000';
export const FAKE_WEBHOOK_SECRET = 'whsec_farthingfake0000';

interface Session {
  id: string;
  object: 'checkout.session';
  mode: string;
  url: string;
  status: 'open' | 'complete' | 'expired';
  payment_status: 'unpaid' | 'paid';
  amount_total: number;
  currency: string;
  client_reference_id: string | null;
  metadata: Record<string, string>;
  payment_intent: string | null;
  success_url: string;
  cancel_url: string;
}

interface Charge {
  id: string;
  object: 'charge';
  amount: number;
  amount_refunded: number;
  currency: string;
  payment_intent: string;
  balance_transaction: string | null;
  refunded: boolean;
}

export interface FakeStripe {
  url: string;
  sessions: Map<string, Session>;
  charges: Map<string, Charge>;
  /** Every request the fake received, as "METHOD path". */
  requests: string[];
  /** The payer pays: the session completes with a charge whose balance transaction carries `fee` (smallest unit). */
  pay(sessionId: string, options?: { fee?: number | null; amountTotal?: number; currency?: string; feeCurrency?: string }): Charge;
  /** The session expires unpaid. */
  expire(sessionId: string): void;
  /** Stripe refunds `amount` (smallest unit) more on the charge. */
  refund(chargeId: string, amount: number): void;
  /** A dispute on the charge, in the given state. */
  dispute(chargeId: string, amount: number, status?: 'lost' | 'won' | 'needs_response'): string;
  /** An event body and its Stripe-Signature header, signed with the webhook secret (or another one: a forgery). */
  signedEvent(
    type: string,
    object: Record<string, unknown>,
    options?: { secret?: string; id?: string; timestamp?: number },
  ): { body: string; signature: string; id: string };
  close(): Promise<void>;
}

/** Parses Stripe's form encoding (a[b][0][c]=v) into nested objects; arrays stay keyed by index. */
function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split(/\[|\]\[|\]/).filter((p) => p !== '');
    let node = out as Record<string, unknown>;
    path.forEach((part, i) => {
      if (i === path.length - 1) node[part] = value;
      else node = (node[part] ??= {}) as Record<string, unknown>;
    });
  }
  return out;
}

const newId = (prefix: string) => `${prefix}_test_${randomBytes(8).toString('hex')}`;

export async function startFakeStripe(): Promise<FakeStripe> {
  const sessions = new Map<string, Session>();
  const charges = new Map<string, Charge>();
  const intents = new Map<string, { id: string; object: 'payment_intent'; latest_charge: string }>();
  const balanceTransactions = new Map<string, { id: string; object: 'balance_transaction'; fee: number; currency: string; amount: number }>();
  const disputes = new Map<string, { id: string; object: 'dispute'; charge: string; amount: number; currency: string; status: string }>();
  const requests: string[] = [];

  const expanded = (session: Session) => {
    const intent = session.payment_intent ? intents.get(session.payment_intent) : undefined;
    if (!intent) return session;
    const charge = charges.get(intent.latest_charge) as Charge;
    const balance = charge.balance_transaction ? (balanceTransactions.get(charge.balance_transaction) ?? null) : null;
    return { ...session, payment_intent: { ...intent, latest_charge: { ...charge, balance_transaction: balance } } };
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      requests.push(`${req.method} ${url.pathname}`);
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const missing = () => send(404, { error: { type: 'invalid_request_error', message: `No such object: ${url.pathname}` } });
      if (req.headers.authorization !== `Bearer ${FAKE_SECRET_KEY}`)
        return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
      let match: RegExpExecArray | null;
      if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
        const form = parseForm(body) as any;
        const item = form.line_items?.['0'];
        const id = newId('cs');
        const session: Session = {
          id,
          object: 'checkout.session',
          mode: form.mode,
          url: `https://checkout.stripe.test/c/pay/${id}`,
          status: 'open',
          payment_status: 'unpaid',
          amount_total: Number(item.price_data.unit_amount) * Number(item.quantity),
          currency: item.price_data.currency,
          client_reference_id: form.client_reference_id ?? null,
          metadata: form.metadata ?? {},
          payment_intent: null,
          success_url: form.success_url,
          cancel_url: form.cancel_url,
        };
        sessions.set(id, session);
        return send(200, session);
      }
      if (req.method === 'GET' && (match = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(url.pathname))) {
        const session = sessions.get(match[1] as string);
        return session ? send(200, url.searchParams.get('expand[0]') ? expanded(session) : session) : missing();
      }
      if (req.method === 'GET' && (match = /^\/v1\/charges\/([^/]+)$/.exec(url.pathname))) {
        const charge = charges.get(match[1] as string);
        return charge ? send(200, charge) : missing();
      }
      if (req.method === 'GET' && (match = /^\/v1\/disputes\/([^/]+)$/.exec(url.pathname))) {
        const dispute = disputes.get(match[1] as string);
        return dispute ? send(200, dispute) : missing();
      }
      return missing();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    sessions,
    charges,
    requests,
    pay(sessionId, options = {}) {
      const session = sessions.get(sessionId);
      if (!session) throw new Error(`no session ${sessionId}`);
      if (options.amountTotal !== undefined) session.amount_total = options.amountTotal;
      if (options.currency) session.currency = options.currency;
      const charge: Charge = {
        id: newId('ch'),
        object: 'charge',
        amount: session.amount_total,
        amount_refunded: 0,
        currency: session.currency,
        payment_intent: newId('pi'),
        balance_transaction: null,
        refunded: false,
      };
      if (options.fee !== null) {
        const txn = {
          id: newId('txn'),
          object: 'balance_transaction' as const,
          fee: options.fee ?? 0,
          currency: options.feeCurrency ?? session.currency,
          amount: session.amount_total,
        };
        balanceTransactions.set(txn.id, txn);
        charge.balance_transaction = txn.id;
      }
      charges.set(charge.id, charge);
      intents.set(charge.payment_intent, { id: charge.payment_intent, object: 'payment_intent', latest_charge: charge.id });
      Object.assign(session, { status: 'complete', payment_status: 'paid', payment_intent: charge.payment_intent });
      return charge;
    },
    expire(sessionId) {
      const session = sessions.get(sessionId) as Session;
      session.status = 'expired';
    },
    refund(chargeId, amount) {
      const charge = charges.get(chargeId) as Charge;
      charge.amount_refunded = Math.min(charge.amount, charge.amount_refunded + amount);
      charge.refunded = charge.amount_refunded === charge.amount;
    },
    dispute(chargeId, amount, status = 'lost') {
      const charge = charges.get(chargeId) as Charge;
      const id = newId('dp');
      disputes.set(id, { id, object: 'dispute', charge: chargeId, amount, currency: charge.currency, status });
      return id;
    },
    signedEvent(type, object, options = {}) {
      const id = options.id ?? newId('evt');
      const body = JSON.stringify({
        id,
        object: 'event',
        api_version: Stripe.API_VERSION,
        created: Math.floor(Date.now() / 1000),
        type,
        livemode: false,
        data: { object },
      });
      const signature = Stripe.webhooks.generateTestHeaderString({
        payload: body,
        secret: options.secret ?? FAKE_WEBHOOK_SECRET,
        ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
      });
      return { body, signature, id };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The environment that turns card top-ups on against the fake. */
export function fakeStripeEnv(fake: FakeStripe, extra: Record<string, string> = {}): Record<string, string> {
  return { FARTHING_STRIPE_SECRET_KEY: FAKE_SECRET_KEY, FARTHING_STRIPE_WEBHOOK_SECRET: FAKE_WEBHOOK_SECRET, FARTHING_STRIPE_API_URL: fake.url, ...extra };
}
