import { writeFileSync } from 'node:fs';
import { DIAGRAM_PATH, sagaDiagram } from '../lib/saga/diagram.js';
import { synthOrderSaga } from '../test/infra/synth.js';

// The infra tests' synth: the app with cdk.json's context and bundling skipped, so no esbuild run is needed
// and the definitions are exactly the ones the tests check.
const { definition, unwind, completion } = synthOrderSaga();
writeFileSync(
  new URL(`../${DIAGRAM_PATH}`, import.meta.url),
  sagaDiagram({ saga: definition, unwind, completion }),
);
console.log(`wrote ${DIAGRAM_PATH}`);
