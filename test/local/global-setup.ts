import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startLocalCloud } from '../../local/cloud.js';
import { loadSeedFile } from '../../local/seed.js';

/** Timeouts and retry intervals at a tenth: a 20 s task timeout fires after 2 s. */
export const TEST_TIME_SCALE = 0.1;

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    sfnEndpoint: string;
    dynamodbEndpoint: string;
    sqsEndpoint: string;
    outputs: Record<string, string>;
    timeScale: number;
  }
}

export default async function setup(project: TestProject) {
  const cloud = await startLocalCloud({
    projectRoot: fileURLToPath(new URL('../..', import.meta.url)),
    port: 0,
    timeScale: TEST_TIME_SCALE,
    seed: loadSeedFile(fileURLToPath(new URL('./seed.json', import.meta.url))),
    trace: process.env.LOCAL_TRACE ? (line) => console.log(line) : undefined,
  });
  project.provide('apiUrl', cloud.apiUrl);
  project.provide('sfnEndpoint', cloud.endpoints.sfn);
  project.provide('dynamodbEndpoint', cloud.endpoints.dynamodb);
  project.provide('sqsEndpoint', cloud.endpoints.sqs);
  project.provide('outputs', cloud.outputs);
  project.provide('timeScale', TEST_TIME_SCALE);
  return () => cloud.stop();
}
