// Drive DBOS workflows through dbosd from Node.js with @grpc/grpc-js, loading proto/ at run time
// with @grpc/proto-loader (no generated files to keep in sync).
//
//     node example.mjs [ADDRESS]          (or DBOSD_ADDRESS=host:port; default localhost:50051)
//
// Needs a DBOS worker on the same system database that registers the workflows `add`, `wait_recv`
// and `set_event_wf` and polls `_dbos_internal_queue` (tests/worker/py/app.py does).
//
// It enqueues a workflow and streams its result (AwaitWorkflow), sends a message to a workflow
// waiting for it, watches an event (WatchEvent) and lists the workflows it started. It prints what it
// does and exits non-zero on the first surprise.

import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const PROTO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto');
const QUEUE = '_dbos_internal_queue';
const WAIT_SEC = 60;

const address = process.argv[2] ?? process.env.DBOSD_ADDRESS ?? 'localhost:50051';

// Enums as names, 64-bit integers as strings, unset fields left out, google.protobuf.Value as
// objects ({numberValue: 2}, {structValue: {fields: ...}}): the proto-loader defaults made explicit.
const definition = protoLoader.loadSync('dbosd/v1/workflow_service.proto', {
  includeDirs: [PROTO_ROOT],
  enums: String,
  longs: String,
  defaults: false,
  oneofs: true,
});
const { WorkflowService } = grpc.loadPackageDefinition(definition).dbosd.v1;
const client = new WorkflowService(address, grpc.credentials.createInsecure());

const unary = (method, request) =>
  new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + (WAIT_SEC + 5) * 1000);
    client[method](request, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });

// Reads a server stream to its end, calling onMessage for each message.
const stream = (method, request, onMessage) =>
  new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + (WAIT_SEC + 5) * 1000);
    const call = client[method](request, { deadline });
    call.on('data', onMessage);
    call.on('error', reject);
    call.on('end', resolve);
  });

function check(condition, what) {
  if (!condition) throw new Error(`example failed: ${what}`);
}

const timeout = { seconds: String(WAIT_SEC) };
const num = (n) => ({ numberValue: n });
const str = (s) => ({ stringValue: s });

// Streams AwaitWorkflow, printing each status change, and returns the outcome.
async function awaitWorkflow(workflowId) {
  let outcome;
  await stream('AwaitWorkflow', { workflowId, timeout }, (msg) => {
    if (msg.statusUpdate) console.log(`  status ${msg.statusUpdate.status}`);
    if (msg.outcome) outcome = msg.outcome;
  });
  check(outcome, `AwaitWorkflow(${workflowId}) ended without an outcome`);
  return outcome;
}

async function main() {
  const run = randomUUID().slice(0, 8);

  // 1. Enqueue add(2, 40) and stream its progress and result.
  const added = await unary('EnqueueWorkflow', {
    workflowName: 'add',
    queueName: QUEUE,
    workflowId: `node-add-${run}`,
    positionalArgs: [num(2), num(40)],
  });
  console.log(`enqueued ${added.workflowId}: ${added.outcome}`);
  let outcome = await awaitWorkflow(added.workflowId);
  check(outcome.status === 'WORKFLOW_STATUS_SUCCESS', `add ended ${JSON.stringify(outcome)}`);
  check(outcome.output.json.numberValue === 42, `add returned ${outcome.output.text}`);
  console.log(`add(2, 40) = ${outcome.output.text}`);

  // 2. Send a message to a workflow waiting for it on a topic.
  const waiting = await unary('EnqueueWorkflow', {
    workflowName: 'wait_recv',
    queueName: QUEUE,
    workflowId: `node-recv-${run}`,
    positionalArgs: [str('greeting'), num(WAIT_SEC)],
  });
  const sent = await unary('SendMessage', {
    destinationId: waiting.workflowId,
    topic: 'greeting',
    messageJson: JSON.stringify({ hello: 'world' }),
  });
  console.log(`sent message ${sent.messageId}`);
  outcome = await awaitWorkflow(waiting.workflowId);
  check(outcome.status === 'WORKFLOW_STATUS_SUCCESS', `wait_recv ended ${JSON.stringify(outcome)}`);
  check(JSON.parse(outcome.output.text).hello === 'world', `wait_recv returned ${outcome.output.text}`);
  console.log(`wait_recv received ${outcome.output.text}`);

  // 3. Watch an event a workflow sets.
  const setter = await unary('EnqueueWorkflow', {
    workflowName: 'set_event_wf',
    queueName: QUEUE,
    workflowId: `node-event-${run}`,
    positionalArgs: [str('progress'), str('half way')],
  });
  const values = [];
  await stream('WatchEvent', { workflowId: setter.workflowId, key: 'progress', timeout }, (msg) =>
    values.push(msg.value),
  );
  check(values.length === 1 && values[0].json.stringValue === 'half way', `WatchEvent gave ${JSON.stringify(values)}`);
  console.log(`event progress = ${values[0].text}`);

  // 4. List the workflows this run started.
  const listed = await unary('ListWorkflows', {
    filter: { workflowIdPrefixes: [`node-add-${run}`, `node-recv-${run}`, `node-event-${run}`] },
  });
  for (const wf of listed.workflows) {
    console.log(`  ${wf.workflowId.padEnd(24)} ${wf.workflowName.padEnd(14)} ${wf.status}`);
  }
  check(listed.workflows.length === 3, `listed ${listed.workflows.length} workflows`);
  console.log('node example: ok');
}

main()
  .then(() => client.close())
  .catch((err) => {
    console.error(err.code !== undefined ? `example failed: ${err.code} ${err.details}` : err.message);
    client.close();
    process.exit(1);
  });
