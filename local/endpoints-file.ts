import { readFileSync } from 'node:fs';

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
