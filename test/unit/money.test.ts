import fc from 'fast-check';
import t from 'tap';
import { feeOf, formatAmount, parseAmount, percentToPpm, splitEvenly } from '../../src/core/money.ts';

t.test('amounts are decimal strings with at most six decimals', async (t) => {
  t.equal(parseAmount('5.00'), 5_000_000n);
  t.equal(parseAmount('0.45'), 450_000n);
  t.equal(parseAmount('0.000001'), 1n);
  t.equal(parseAmount('12'), 12_000_000n);
  t.equal(parseAmount('0'), 0n);
  for (const bad of [5, '5.0000001', '-1.00', '+1', '1e3', ' 1', '1.', '.5', '01', '', 'abc', null, undefined, '1,00', '99999999999999']) {
    t.throws(() => parseAmount(bad), { code: 'invalid_amount' }, `refuses ${JSON.stringify(bad)}`);
  }
});

t.test('formatting shows at least two decimals and never loses a micro-unit', async (t) => {
  t.equal(formatAmount(5_000_000n), '5.00');
  t.equal(formatAmount(450_000n), '0.45');
  t.equal(formatAmount(1n), '0.000001');
  t.equal(formatAmount(1_234_567n), '1.234567');
  t.equal(formatAmount(0n), '0.00');
  t.equal(formatAmount(-500_000n), '-0.50');
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), (micros) => parseAmount(formatAmount(micros)) === micros));
});

t.test('the split is exact: floor shares, remainder to the earliest', async (t) => {
  t.same(splitEvenly(5_000_000n, 10), Array(10).fill(500_000n));
  t.same(splitEvenly(10n, 3), [4n, 3n, 3n]);
  t.same(splitEvenly(2n, 3), [1n, 1n, 0n]);
  t.same(splitEvenly(0n, 2), [0n, 0n]);
  t.throws(() => splitEvenly(1n, 0));
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 1, max: 500 }), (total, n) => {
      const shares = splitEvenly(total, n);
      const sum = shares.reduce((a, b) => a + b, 0n);
      const max = shares[0] as bigint;
      const min = shares[n - 1] as bigint;
      // exact, at most one micro-unit apart, never increasing (earliest get the remainder)
      return sum === total && max - min <= 1n && shares.every((s, i) => i === 0 || s <= (shares[i - 1] as bigint));
    }),
  );
});

t.test('the fee is taken per share and rounded down', async (t) => {
  const ppm = percentToPpm('10');
  t.equal(ppm, 100_000n);
  t.equal(feeOf(500_000n, ppm), 50_000n);
  t.equal(feeOf(9n, ppm), 0n, '10% of 0.000009 rounds down to nothing');
  t.equal(percentToPpm('7.5'), 75_000n);
  t.equal(percentToPpm('0'), 0n);
  t.equal(feeOf(333_333n, percentToPpm('7.5')), 24_999n);
});
