// Disputed statements and the outbox relay. One test process for these files (README.md, Tests).
await import('../../federation/settlement-disputes.test.ts');
await import('../../integration/relay.test.ts');
