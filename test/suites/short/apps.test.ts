// Apps and cards: webhooks, subscriptions, card top-ups. One test process for these files (README.md, Tests).
await import('../../apps/webhooks.test.ts');
await import('../../apps/subscriptions.test.ts');
await import('../../cards/topups.test.ts');
