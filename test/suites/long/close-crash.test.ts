// One test process for this file (README.md, Tests).
await import('../../integration/close-crash.test.ts');
