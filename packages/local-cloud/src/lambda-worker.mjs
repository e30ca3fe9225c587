// One emulated Lambda execution environment. Plain JavaScript on purpose: a worker spawned from a tsx
// process would otherwise need the TypeScript loader, which costs startup time in every sandbox.

import { randomUUID } from 'node:crypto';
import dns from 'node:dns';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const LOOPBACK = { address: '127.0.0.1', family: 4 };

// Emulator URLs such as sqs.us-east-1.localhost are not resolved by glibc; RFC 6761 says they are loopback.
function resolveLocalhostSubdomainsToLoopback() {
  const original = dns.lookup;
  dns.lookup = (hostname, options, callback) => {
    const done = typeof options === 'function' ? options : callback;
    const lookupOptions = typeof options === 'object' && options !== null ? options : {};
    if (typeof hostname === 'string' && hostname.endsWith('.localhost')) {
      if (lookupOptions.all) {
        done(null, [LOOPBACK]);
      } else {
        done(null, LOOPBACK.address, LOOPBACK.family);
      }
      return;
    }
    original(hostname, options, callback);
  };
}

function errorPayload(error, fallbackType = 'Error') {
  if (error instanceof Error) {
    return {
      errorType: error.name || fallbackType,
      errorMessage: error.message,
      trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
    };
  }
  return { errorType: fallbackType, errorMessage: String(error), trace: [] };
}

function findModuleFile(taskRoot, moduleName) {
  for (const extension of ['.mjs', '.js', '.cjs']) {
    const candidate = path.join(taskRoot, `${moduleName}${extension}`);
    if (existsSync(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

async function loadHandler() {
  const { taskRoot, handler } = workerData;
  const lastDot = handler.lastIndexOf('.');
  const moduleName = handler.slice(0, lastDot);
  const exportPath = handler.slice(lastDot + 1);
  const moduleFile = findModuleFile(taskRoot, moduleName);
  if (lastDot < 1 || moduleFile === undefined) {
    const error = new Error(`Cannot find module '${moduleName}' in ${taskRoot} (handler ${handler})`);
    error.name = 'Runtime.ImportModuleError';
    throw error;
  }
  const loaded = await import(pathToFileURL(moduleFile).href);
  const candidate = loaded[exportPath] ?? loaded.default?.[exportPath];
  if (typeof candidate !== 'function') {
    const error = new Error(`${handler} is undefined or not exported`);
    error.name = 'Runtime.HandlerNotFound';
    throw error;
  }
  return candidate;
}

function runHandler(handlerFunction, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== null && error !== undefined) reject(error);
      else resolve(result);
    };
    try {
      const returned = handlerFunction(event, context, callback);
      // Async handlers settle through their promise; callback-style handlers (3 parameters) through the callback.
      if (returned && typeof returned.then === 'function') {
        returned.then(
          (result) => callback(null, result),
          (error) => callback(error ?? new Error('Handler rejected without a reason')),
        );
      } else if (handlerFunction.length < 3) {
        callback(null, returned);
      }
    } catch (error) {
      callback(error);
    }
  });
}

async function main() {
  process.setSourceMapsEnabled(true);
  resolveLocalhostSubdomainsToLoopback();
  const initStarted = performance.now();
  let handlerFunction;
  try {
    handlerFunction = await loadHandler();
  } catch (error) {
    parentPort.postMessage({ type: 'init-error', error: errorPayload(error, 'Runtime.ImportModuleError') });
    return;
  }
  parentPort.postMessage({ type: 'ready', initMs: performance.now() - initStarted });

  parentPort.on('message', async (message) => {
    if (message.type !== 'invoke') return;
    const { functionName, functionArn, memoryMb } = workerData;
    const context = {
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: functionArn,
      memoryLimitInMB: String(memoryMb),
      awsRequestId: message.requestId ?? randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `local/${workerData.sandboxId}`,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
    };
    try {
      const result = await runHandler(handlerFunction, message.event, context);
      // Lambda serialises the result as JSON: undefined becomes null, Dates become strings.
      const payloadJson = result === undefined ? 'null' : JSON.stringify(result);
      parentPort.postMessage({
        type: 'result',
        id: message.id,
        ok: true,
        payloadJson: payloadJson ?? 'null',
      });
    } catch (error) {
      parentPort.postMessage({ type: 'result', id: message.id, ok: false, error: errorPayload(error) });
    }
  });
}

main();
