import { correlateByField } from '../src/correlation.js';

/** The tests' app correlates by `jobId`; an app passes its own field (this project's, `orderId`). */
export const jobIdOf = correlateByField('jobId');
