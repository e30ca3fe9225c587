import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Where the synthesized stack lives and what it is called. */
export interface CloudAssembly {
  cdkOutDir: string;
  stackName: string;
  templatePath: string;
}

/** What a `cdk init` app's template and bundles come from; an app with more source folders names them. */
export const DEFAULT_SYNTH_SOURCES = ['bin', 'lib', 'cdk.json', 'package-lock.json'];

function newestModification(entry: string): number {
  if (!existsSync(entry)) return 0;
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return readdirSync(entry).reduce(
    (newest, child) => Math.max(newest, newestModification(path.join(entry, child))),
    stats.mtimeMs,
  );
}

/** cdk.out is reused when it is newer than every source that shapes the template or the bundles. */
export function isAssemblyFresh(
  projectRoot: string,
  cdkOutDir: string,
  sources: readonly string[] = DEFAULT_SYNTH_SOURCES,
): boolean {
  const manifest = path.join(cdkOutDir, 'manifest.json');
  if (!existsSync(manifest)) return false;
  const builtAt = statSync(manifest).mtimeMs;
  return sources.every((source) => newestModification(path.join(projectRoot, source)) <= builtAt);
}

/** The one stack of a synthesized cloud assembly (a cdk.out folder). */
export function readAssembly(cdkOutDir: string): CloudAssembly {
  const manifest = JSON.parse(readFileSync(path.join(cdkOutDir, 'manifest.json'), 'utf8')) as {
    artifacts?: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const stacks = Object.entries(manifest.artifacts ?? {}).filter(
    ([, artifact]) => artifact.type === 'aws:cloudformation:stack',
  );
  const [stack] = stacks;
  if (!stack || stacks.length !== 1)
    throw new Error(`Expected one stack in ${cdkOutDir}, found ${stacks.length}`);
  const [stackName, artifact] = stack;
  return {
    cdkOutDir,
    stackName,
    templatePath: path.join(cdkOutDir, artifact.properties?.templateFile ?? `${stackName}.template.json`),
  };
}

/** Synthesizes the app unless a fresh cdk.out exists: the local cloud runs exactly what `cdk deploy` would deploy. */
export async function ensureCloudAssembly(
  projectRoot: string,
  options: { force?: boolean; log?: (line: string) => void; sources?: readonly string[] } = {},
): Promise<CloudAssembly> {
  const cdkOutDir = path.join(projectRoot, 'cdk.out');
  if (options.force || !isAssemblyFresh(projectRoot, cdkOutDir, options.sources)) {
    options.log?.('synthesizing the stack (cdk synth)...');
    await new Promise<void>((resolve, reject) => {
      const child = spawn('npx', ['cdk', 'synth', '--quiet'], {
        cwd: projectRoot,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`cdk synth failed (exit ${code}):\n${stderr}`)),
      );
    });
  }
  return readAssembly(cdkOutDir);
}
