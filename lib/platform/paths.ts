import { fileURLToPath } from 'node:url';

/** Absolute path of a handler under lambdas/, independent of the directory cdk runs from. */
export function lambdaEntry(relativePath: string): string {
  return fileURLToPath(new URL(`../../lambdas/${relativePath}`, import.meta.url));
}
