// The unit files: pure functions, schemas and the source-reading checks. One test process for these files (README.md, Tests).
await import('../../unit/bank-formats.test.ts');
await import('../../unit/boundaries.test.ts');
await import('../../unit/canonical.test.ts');
await import('../../unit/config.test.ts');
await import('../../unit/eddsa-jcs-2022.test.ts');
await import('../../unit/input.test.ts');
await import('../../unit/iris.test.ts');
await import('../../unit/money.test.ts');
await import('../../unit/outbound.test.ts');
await import('../../unit/period.test.ts');
await import('../../unit/ports.test.ts');
await import('../../unit/rendered-once.test.ts');
await import('../../unit/statement.test.ts');
await import('../../unit/suites.test.ts');
