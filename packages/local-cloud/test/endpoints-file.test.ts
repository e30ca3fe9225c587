import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishEndpointsIfAsked } from '../src/cloud.js';
import {
  LOCAL_ENDPOINTS_FILE,
  type LocalEndpoints,
  publishLocalEndpoints,
  readLocalEndpoints,
} from '../src/endpoints-file.js';

function endpointsOf(apiPort: number): LocalEndpoints {
  return {
    api: `http://127.0.0.1:${apiPort}`,
    dynamodb: 'http://127.0.0.1:8000',
    sqs: 'http://127.0.0.1:9324',
    sfn: 'http://127.0.0.1:8083',
    region: 'us-east-1',
  };
}

describe('.local-cloud/endpoints.json', () => {
  let projectRoot: string;
  let file: string;

  beforeEach(async () => {
    projectRoot = await mkdtemp(path.join(tmpdir(), 'endpoints-'));
    file = path.join(projectRoot, LOCAL_ENDPOINTS_FILE);
  });

  afterEach(async () => {
    await rm(projectRoot, { recursive: true, force: true });
  });

  it('belongs to npm start: a local cloud started without publishEndpoints leaves an existing file alone', async () => {
    // npm start is running and published its endpoints.
    const started = await publishEndpointsIfAsked({ projectRoot, publishEndpoints: true }, endpointsOf(3000));
    const published = await readFile(file, 'utf8');

    // A test suite or a benchmark boots a second local cloud beside it (the option defaults to false)...
    expect(await publishEndpointsIfAsked({ projectRoot }, endpointsOf(41234))).toBeUndefined();
    expect(await publishEndpointsIfAsked({ projectRoot, publishEndpoints: false }, endpointsOf(41235))).toBe(
      undefined,
    );
    // ...and has nothing to remove when it stops: scripts still reach npm start's cloud.
    expect(await readFile(file, 'utf8')).toBe(published);
    expect(readLocalEndpoints(file).api).toBe('http://127.0.0.1:3000');

    await started?.();
    expect(existsSync(file)).toBe(false);
  });

  it('is removed on stop only while it still names the cloud that wrote it', async () => {
    const first = await publishLocalEndpoints(projectRoot, endpointsOf(3000));
    const second = await publishLocalEndpoints(projectRoot, endpointsOf(3001));
    await first();
    expect(readLocalEndpoints(file).api).toBe('http://127.0.0.1:3001');
    await second();
    expect(existsSync(file)).toBe(false);
    // Gone already: stopping again is harmless.
    await second();
  });

  it('is not written when the option is left out, even where none exists yet', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    expect(await publishEndpointsIfAsked({ projectRoot }, endpointsOf(3000))).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    await writeFile(file, 'not json');
    expect(() => readLocalEndpoints(file)).toThrow(/No local cloud found/);
  });
});
