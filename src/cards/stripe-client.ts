/**
 * The one Stripe client of the instance (the official library), made from the configuration.
 * FARTHING_STRIPE_API_URL points it at another address (a local fake in the tests; refused in
 * production); otherwise it talks to api.stripe.com with the API version the library pins.
 */
import type Stripe from 'stripe';
import type { CardsConfig } from '../config.ts';
import { AppError } from '../core/errors.ts';

let library: Promise<typeof Stripe> | undefined;
/** The library, loaded at its first use: most instances take no cards, and loading it is 0.2 s of CPU. */
function stripeLibrary(): Promise<typeof Stripe> {
  library ??= import('stripe').then((module) => module.default);
  return library;
}

const clients = new WeakMap<CardsConfig, Stripe>();

async function stripeClient(cards: CardsConfig): Promise<Stripe> {
  let client = clients.get(cards);
  if (!client) {
    const Library = await stripeLibrary();
    const options: ConstructorParameters<typeof Stripe>[1] = { maxNetworkRetries: 2, timeout: 15_000, telemetry: false };
    if (cards.apiUrl) {
      const url = new URL(cards.apiUrl);
      Object.assign(options, {
        host: url.hostname,
        port: url.port || (url.protocol === 'https:' ? 443 : 80),
        protocol: url.protocol.slice(0, -1) as 'http' | 'https',
      });
    }
    client = new Library(cards.secretKey, options);
    clients.set(cards, client);
  }
  return client;
}

/** A webhook's event, if its Stripe-Signature verifies (Stripe's helper; it needs no key). Throws otherwise. */
export async function constructStripeEvent(body: Buffer, signature: string, secret: string): Promise<unknown> {
  return (await stripeLibrary()).webhooks.constructEvent(body, signature, secret);
}

/** Calls Stripe with the instance's client; Stripe's errors are the instance's 503: the member tries again, Stripe redelivers a webhook. */
export async function callStripe<T>(cards: CardsConfig, what: string, call: (stripe: Stripe) => Promise<T>): Promise<T> {
  const stripe = await stripeClient(cards);
  try {
    return await call(stripe);
  } catch (error) {
    if (error instanceof (await stripeLibrary()).errors.StripeError) {
      throw new AppError('unavailable', `Stripe did not answer ${what}: ${error.message}`);
    }
    throw error;
  }
}
