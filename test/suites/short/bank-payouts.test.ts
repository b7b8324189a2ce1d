// The bank pages and SEPA payout files. One test process for these files (README.md, Tests).
await import('../../web/bank-pages.test.ts');
await import('../../integration/sepa-payouts.test.ts');
