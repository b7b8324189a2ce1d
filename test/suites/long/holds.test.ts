// One test process for this file (README.md, Tests).
await import('../../integration/holds.test.ts');
