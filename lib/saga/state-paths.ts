/** Where a step's result lands in the saga state. */
export function resultPathOf(stepName: string): string {
  return `$.results.${stepName}`;
}

/** Where a Catch records a failure; keyed by state so the first failure and later ones are all kept, in order. */
export function failurePathOf(stateName: string): string {
  return `$.failures.${stateName}`;
}
