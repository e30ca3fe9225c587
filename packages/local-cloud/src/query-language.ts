/**
 * Where an Amazon States Language definition leaves JSONPath: JSONata (a definition's or a state's
 * `QueryLanguage`), variables (`Assign`) and the JSONata-only fields `Arguments` and `Output`. The local engine
 * runs them silently wrong, so the local cloud refuses them; an app can keep its definitions clear of them at
 * synth with the same check. Pure: no emulator is loaded by importing this module
 * (the package's `./query-language` export).
 */
export type QueryLanguageFeature = 'JSONata' | 'Assign' | 'Arguments' | 'Output';

export interface QueryLanguageFinding {
  /** `definition` for the top level, else the state's path: `Parallel/Branch state`. */
  where: string;
  feature: QueryLanguageFeature;
}

const JSONATA_OR_VARIABLE_FIELDS = ['Assign', 'Arguments', 'Output'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every use of JSONata or variables in a definition, nested states (Parallel branches, Map processors) included. */
export function findJsonataAndVariables(definition: unknown, scope = ''): QueryLanguageFinding[] {
  if (!isObject(definition)) return [];
  const findings: QueryLanguageFinding[] = [];
  if (definition.QueryLanguage === 'JSONata')
    findings.push({ where: scope || 'definition', feature: 'JSONata' });
  const states = isObject(definition.States) ? definition.States : {};
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    const where = scope ? `${scope}/${name}` : name;
    if (state.QueryLanguage === 'JSONata') findings.push({ where, feature: 'JSONata' });
    for (const field of JSONATA_OR_VARIABLE_FIELDS) {
      if (state[field] !== undefined) findings.push({ where, feature: field });
    }
    const children = [
      ...(Array.isArray(state.Branches) ? state.Branches : []),
      state.ItemProcessor,
      state.Iterator,
    ];
    for (const child of children) findings.push(...findJsonataAndVariables(child, where));
  }
  return findings;
}
