// One test process for this file (README.md, Tests).
await import('../../federation/two-instances.test.ts');
