import { writeFileSync } from 'node:fs';
import { GENERATED_VALIDATORS, stepValidatorsSource } from './step-validators-source.js';

writeFileSync(new URL(`../${GENERATED_VALIDATORS}`, import.meta.url), stepValidatorsSource());
console.log(`wrote ${GENERATED_VALIDATORS}`);
