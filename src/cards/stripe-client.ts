/**
 * The one Stripe client of the instance (the official library), made from the configuration.
 * FARTHING_STRIPE_API_URL points it at another address (a local fake in the tests; refused in
 * production); otherwise it talks to api.stripe.com with the API version the library pins.
 */
import Stripe from 'stripe';
import type { CardsConfig } from '../config.ts';
import { AppError } from '../core/errors.ts';

const clients = new WeakMap<CardsConfig, Stripe>();

export function stripeClient(cards: CardsConfig): Stripe {
  let client = clients.get(cards);
  if (!client) {
    const options: ConstructorParameters<typeof Stripe>[1] = { maxNetworkRetries: 2, timeout: 15_000, telemetry: false };
    if (cards.apiUrl) {
      const url = new URL(cards.apiUrl);
      Object.assign(options, {
        host: url.hostname,
        port: url.port || (url.protocol === 'https:' ? 443 : 80),
        protocol: url.protocol.slice(0, -1) as 'http' | 'https',
      });
    }
    client = new Stripe(cards.secretKey, options);
    clients.set(cards, client);
  }
  return client;
}

/** Stripe's webhook helpers need no key; they come from the same library. */
export const stripeWebhooks = Stripe.webhooks;

/** Stripe's errors are the instance's 503: the member tries again, Stripe redelivers a webhook. */
export async function callStripe<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError) {
      throw new AppError('unavailable', `Stripe did not answer ${what}: ${error.message}`);
    }
    throw error;
  }
}
