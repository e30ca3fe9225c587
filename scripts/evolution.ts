/**
 * `npm run check:evolution`: compares the app with the release committed in contract/release.json and exits 1
 * on a change that would strand or corrupt a running saga.
 * `npm run release:definition`: writes the current app's extract there, as a deliberate release.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { compareReleases, formatComparison, type Release } from './evolution/compare.js';
import { extractRelease, synthDefaultStage } from './evolution/extract.js';

export const RELEASE_PATH = fileURLToPath(new URL('../contract/release.json', import.meta.url));

/** JSON with anything short on one line: the release is read in review, one change a line. */
export function formatRelease(release: Release): string {
  return `${formatted(release, '')}\n`;
}

function formatted(value: unknown, indent: string): string {
  const inline = JSON.stringify(value, null, 1)
    .replace(/\n\s*/g, ' ')
    .replace(/([[{]) /g, '$1')
    .replace(/ ([\]}])/g, '$1');
  if (typeof value !== 'object' || value === null || indent.length + inline.length <= 100) return inline;
  const inner = `${indent}  `;
  const items = Array.isArray(value)
    ? value.map((item) => `${inner}${formatted(item, inner)}`)
    : Object.entries(value).map(([key, item]) => `${inner}${JSON.stringify(key)}: ${formatted(item, inner)}`);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${items.join(',\n')}\n${indent}${close}`;
}

function main(mode: string | undefined): number {
  const started = Date.now();
  const { stack, resources } = synthDefaultStage();
  const current = extractRelease(stack, resources);
  if (mode === 'release') {
    writeFileSync(RELEASE_PATH, formatRelease(current));
    // In the repository's own format, so `npm run lint` passes on the file as written.
    const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
    execFileSync(process.execPath, [biome, 'format', '--write', RELEASE_PATH], { stdio: 'ignore' });
    console.log(`Wrote ${RELEASE_PATH}: review and commit it with the change it releases.`);
    return 0;
  }
  const released = JSON.parse(readFileSync(RELEASE_PATH, 'utf8')) as Release;
  const comparison = compareReleases(released, current);
  console.log(formatComparison(comparison, 'contract/release.json'));
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return comparison.failures.length === 0 ? 0 : 1;
}

process.exitCode = main(process.argv[2]);
