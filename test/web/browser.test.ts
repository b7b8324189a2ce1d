/** The journeys of test/helpers/journeys.ts in Chromium with JavaScript enabled. */
import t from 'tap';
import { withChromium } from '../helpers/chromium.ts';
import { journeys } from '../helpers/journeys.ts';

await withChromium(t, 'journeys', journeys, [true]);
