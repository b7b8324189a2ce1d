// One test process for this file (README.md, Tests).
await import('../web/bank-pages.test.ts');
