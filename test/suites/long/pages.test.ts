// One test process for this file (README.md, Tests).
await import('../../web/pages.test.ts');
