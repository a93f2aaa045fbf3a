// Sluice local Lambda: the Node.js runtime's bootstrap.
//
// Runs the Lambda Runtime API 2018-06-01 loop against AWS_LAMBDA_RUNTIME_API
// and calls the handler named by _HANDLER ("file.function", "dir/file.function")
// from LAMBDA_TASK_ROOT: an async handler (event, context) => result, or a
// callback handler (event, context, callback). CommonJS and ES modules
// (.js, .mjs, .cjs) both load. Uses only Node's standard library.
'use strict';

const http = require('http');
const path = require('path');
const fs = require('fs');
const { pathToFileURL } = require('url');

const [host, port] = splitHostPort(process.env.AWS_LAMBDA_RUNTIME_API);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const BASE = '/2018-06-01/runtime';

function splitHostPort(api) {
  const i = api.lastIndexOf(':');
  return [api.slice(0, i), Number(api.slice(i + 1))];
}

function request(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: BASE + p, agent, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function post(p, payload, errorType) {
  const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) };
  if (errorType) headers['Lambda-Runtime-Function-Error-Type'] = errorType;
  const res = await request('POST', p, payload, headers);
  if (res.status !== 202) throw new Error(`POST ${p} answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
}

function errorBody(err, type) {
  const e = err instanceof Error ? err : new Error(String(err));
  return JSON.stringify({
    errorType: type || e.name || 'Error',
    errorMessage: e.message,
    trace: (e.stack || '').split('\n'),
  });
}

class HandlerError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

async function loadHandler(spec) {
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = spec.lastIndexOf('.');
  if (dot <= 0 || dot === spec.length - 1) {
    throw new HandlerError('Runtime.MalformedHandlerName', `Bad handler '${spec}': expected file.function`);
  }
  const modulePath = path.resolve(root, spec.slice(0, dot));
  const fnName = spec.slice(dot + 1);
  const file = ['.js', '.mjs', '.cjs', ''].map((ext) => modulePath + ext).find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  if (!file) {
    throw new HandlerError('Runtime.ImportModuleError', `Error: Cannot find module '${spec.slice(0, dot)}'`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    throw new HandlerError('Runtime.ImportModuleError', `Error: ${err.message}`);
  }
  const fn = mod[fnName] !== undefined ? mod[fnName] : mod.default && mod.default[fnName];
  if (typeof fn !== 'function') {
    throw new HandlerError('Runtime.HandlerNotFound', `${spec.slice(0, dot)}.${fnName} is undefined or not exported`);
  }
  return fn;
}

function makeContext(headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const clientContext = headers['lambda-runtime-client-context'];
  return {
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: clientContext ? JSON.parse(clientContext) : undefined,
    identity: undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

function invokeHandler(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err || new Error('handler failed'));
    try {
      const out = fn(event, context, callback);
      if (fn.length < 3 || (out && typeof out.then === 'function')) {
        Promise.resolve(out).then((r) => callback(null, r), (e) => callback(e === undefined ? new Error('undefined rejection') : e));
      }
    } catch (err) {
      callback(err);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || '');
  } catch (err) {
    console.error(`${err.name}: ${err.message}`);
    try {
      await post('/init/error', errorBody(err, err.name), err.name);
    } finally {
      process.exit(1);
    }
  }
  for (;;) {
    const next = await request('GET', '/invocation/next');
    if (next.status !== 200) throw new Error(`GET next answered ${next.status}`);
    const id = next.headers['lambda-runtime-aws-request-id'];
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    const context = makeContext(next.headers);
    let payload;
    try {
      const text = next.body.toString();
      const result = await invokeHandler(handler, text ? JSON.parse(text) : {}, context);
      payload = result === undefined ? 'null' : JSON.stringify(result);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      console.error(`${new Date().toISOString()}\t${id}\tERROR\tInvoke Error\t${e.name}: ${e.message}`);
      await post(`/invocation/${id}/error`, errorBody(e));
      continue;
    }
    await post(`/invocation/${id}/response`, payload);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
