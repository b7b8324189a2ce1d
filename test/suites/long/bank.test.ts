// Bank statements: camt.053 imports, the samples, the bank CLI. One test process for these files (README.md, Tests).
await import('../../integration/bank-statements.test.ts');
await import('../../integration/bank-statement-samples.test.ts');
await import('../../integration/bank-cli.test.ts');
