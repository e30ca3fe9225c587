import { writeFileSync } from 'node:fs';
import { GENERATED_VALIDATORS, validatorsSource } from './validators-source.js';

writeFileSync(new URL(`../${GENERATED_VALIDATORS}`, import.meta.url), validatorsSource());
console.log(`wrote ${GENERATED_VALIDATORS}`);
