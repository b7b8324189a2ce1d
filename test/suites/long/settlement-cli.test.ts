// One test process for this file (README.md, Tests).
await import('../../federation/settlement-cli.test.ts');
