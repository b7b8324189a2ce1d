// One test process for this file (README.md, Tests).
await import('../../integration/money-limits.test.ts');
