import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where the running local cloud publishes its endpoints for scripts (relative to the project root). */
export const LOCAL_ENDPOINTS_FILE = '.local-cloud/endpoints.json';

export interface LocalEndpoints {
  api: string;
  dynamodb: string;
  sqs: string;
  sfn: string;
  region: string;
}

export function readLocalEndpoints(file = LOCAL_ENDPOINTS_FILE): LocalEndpoints {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalEndpoints;
  } catch {
    throw new Error(`No local cloud found (${file}): start it with npm start`);
  }
}

/**
 * Writes the endpoints file under `projectRoot` (what npm start does, so that `npm run redrive -- --local`
 * finds it) and returns what removes it again: only while it still holds these endpoints, so that stopping
 * one local cloud never deletes the file another one wrote since.
 */
export async function publishLocalEndpoints(
  projectRoot: string,
  endpoints: LocalEndpoints,
): Promise<() => Promise<void>> {
  const file = path.join(projectRoot, LOCAL_ENDPOINTS_FILE);
  const text = `${JSON.stringify(endpoints, null, 2)}\n`;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return async () => {
    const current = await readFile(file, 'utf8').catch(() => undefined);
    if (current === text) await rm(file, { force: true });
  };
}
