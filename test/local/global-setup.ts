import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

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
  // The SDK warns about Node 20 once per process on import: the local cloud is imported after this.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const { startLocalCloud } = await import('../../local/cloud.js');
  const { loadSeedFile } = await import('../../local/seed.js');
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
