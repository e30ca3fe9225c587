import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DIAGRAM_PATH, sagaDiagram } from '../../lib/saga/diagram.js';
import { synthOrderSaga } from './synth.js';

describe('the committed saga diagram', () => {
  const { definition, unwind, completion } = synthOrderSaga();
  const rendered = sagaDiagram({ saga: definition, unwind, completion });

  it('is what npm run diagram generates from the synthesized machines', () => {
    const committed = readFileSync(new URL(`../../${DIAGRAM_PATH}`, import.meta.url), 'utf8');
    expect(committed, 'docs/saga.md is stale: run npm run diagram').toBe(rendered);
  });

  it('draws every state and every way out of it, of every machine', () => {
    for (const [id, machine] of [
      ['saga', definition],
      ['unwind', unwind],
      ['completion', completion],
    ] as const) {
      for (const [name, state] of Object.entries(machine.States)) {
        expect(rendered).toMatch(new RegExp(`^ {4}${id}_${name}[[({]{1,2}"${name}"`, 'm'));
        if (state.Next) expect(rendered).toContain(`${id}_${name} --> ${id}_${state.Next}`);
        for (const catcher of state.Catch ?? [])
          expect(rendered).toContain(
            `${id}_${name} -.->|"${catcher.ErrorEquals.join(', ')}"| ${id}_${catcher.Next}`,
          );
      }
    }
  });

  it('tells the forward path, the compensations and the escalations apart', () => {
    expect(rendered).toContain(
      'class saga_ReserveInventory,saga_ChargePayment,saga_CreateShipment,saga_ConfirmOrder,completion_ConfirmOrder forward',
    );
    expect(rendered).toMatch(/class [\w,]*saga_MarkNeedsAttention[\w,]* escalation/);
    expect(rendered).toMatch(
      /class [\w,]*saga_MarkCompensationFailed[\w,]*unwind_MarkCompensationFailed[\w,]* escalation/,
    );
    expect(rendered).toMatch(/class [\w,]*saga_RefundPayment[\w,]*unwind_CancelShipment[\w,]* compensation/);
  });
});
