// A real, unmodified DBOS TypeScript (@dbos-inc/dbos-sdk 5.3.0) worker for dbosd's integration tests:
// the twin of tests/worker/py/app.py, plain JavaScript (no compile step).
//
// Launched by the Rust tests as
//     node tests/worker/ts/app.mjs
// after scripts/setup-ts-worker.sh installed tests/worker/ts/node_modules. Configuration comes from the
// environment only, with the same variables as the Python app:
//
//     DBOS_SYSTEM_DATABASE_URL  required, postgres URL of the system database
//     WORKER_APP_NAME           DBOS application name (default "dbosd-test")
//     WORKER_APP_VERSION        optional DBOS applicationVersion (else DBOS computes one)
//     WORKER_EXECUTOR_ID        optional DBOS executorID (else "local")
//     WORKER_QUEUES             optional extra queues, comma-separated "name[:concurrency]"
//     WORKER_NO_DEFAULT_QUEUES  optional; "1" skips test_queue/serial_queue
//     WORKER_LOG_LEVEL          optional DBOS log level, Python spelling accepted (default INFO)
//     WORKER_SELF_START         optional workflow id prefix: after launch the app itself starts `echo`
//                               twice with the value WORKER_SELF_START_VALUE (JSON text, default null):
//                               "<prefix>-native" directly (DBOS.startWorkflow: the TS default,
//                               js_superjson) and "<prefix>-portable" enqueued by name on test_queue
//                               with portable serialization (portable_json)
//
// After launch it registers its queues, prints exactly "DBOSD-WORKER-READY" on stdout and waits for
// SIGTERM/SIGINT. DBOS logs at INFO go to stdout (console.log), warnings and errors to stderr.
//
// Workflows, registered under the same names as the Python app's. TypeScript workflows take positional
// arguments only: a portable row's `namedArgs` are ignored by the TS worker (so `add(2, b=40)` is a
// Python-only call), and a parameter left without an argument is `undefined` (its JavaScript default
// applies), where Python fails the workflow for a missing required argument.
//     echo(x) -> x
//     add(a, b) -> a + b
//     wait_recv(topic = null, timeout_sec = 30) -> DBOS.recv(topic, timeout_sec) (null on timeout)
//     set_event_wf(key, value) -> value, after setEvent(key, value)
//     set_events_then_wait(key, values, topic, interval_sec = 0) -> recv(topic, 60),
//         after setEvent(key, v) for each v in values (DBOS.sleep(interval_sec) between them if > 0)
//     fail(message, code = undefined) throws InteropError(message, code)
//     sleepy(seconds) -> seconds, after DBOS.sleep(seconds)
//     multi_step(n) -> [0, 1, ..., n-1], one DBOS step ("step_value") per element; TS numbers the
//         steps of a workflow from 0 where Python starts at 1
//     blocker(topic) -> recv(topic, 60)
//     stamp(tag) -> {tag}
//     leave_traces(key, topic, children = 0) -> {message: recv(topic), children: [0..children-1]},
//         after a step, setEvent(key), a closed stream `key` and `children` child echo workflows:
//         a row in every table a workflow can own
//     scheduled(when, ctx) -> {when: when.toISOString(), is_date: <when is a Date>, ctx}
//         (the signature DBOS schedules call: scheduled time, schedule context)
//     scheduled_types(when, ctx) -> {is_date: <when is a Date>, ctx: {key: [<constructor name or
//         typeof>, <ISO text of a Date, else String(value)>]}}: what the worker really deserialized

import { DBOS } from '@dbos-inc/dbos-sdk';

// pg 8 warns (DeprecationWarning) about DBOS's overlapping client.query() calls; not ours to fix.
process.noDeprecation = true;

const READY_LINE = 'DBOSD-WORKER-READY';
const POLLING_INTERVAL_MS = 100;

/** Thrown by `fail`; its portable error envelope is {"name":"InteropError","message":...,"code":...}. */
class InteropError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'InteropError';
    if (code !== undefined) {
      this.code = code;
    }
  }
}

// ----------------------------------------------------------------------------------------- workflows

/** `null` and `undefined` both mean "no topic" to DBOS.recv (the DBOS null topic). */
const topicOf = (topic) => topic ?? undefined;

const echo = DBOS.registerWorkflow(async (x) => x, { name: 'echo' });

DBOS.registerWorkflow(async (a, b) => a + b, { name: 'add' });

DBOS.registerWorkflow(async (topic = null, timeoutSec = 30) => DBOS.recv(topicOf(topic), timeoutSec), {
  name: 'wait_recv',
});

DBOS.registerWorkflow(
  async (key, value) => {
    await DBOS.setEvent(key, value);
    return value;
  },
  { name: 'set_event_wf' },
);

DBOS.registerWorkflow(
  async (key, values, topic, intervalSec = 0) => {
    for (const [i, v] of values.entries()) {
      if (i > 0 && intervalSec > 0) {
        await DBOS.sleep(intervalSec * 1000);
      }
      await DBOS.setEvent(key, v);
    }
    return DBOS.recv(topicOf(topic), 60);
  },
  { name: 'set_events_then_wait' },
);

DBOS.registerWorkflow(
  async (message, code) => {
    throw new InteropError(message, code);
  },
  { name: 'fail' },
);

DBOS.registerWorkflow(
  async (seconds) => {
    await DBOS.sleep(seconds * 1000);
    return seconds;
  },
  { name: 'sleepy' },
);

DBOS.registerWorkflow(
  async (n) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      out.push(await DBOS.runStep(async () => i, { name: 'step_value' }));
    }
    return out;
  },
  { name: 'multi_step' },
);

DBOS.registerWorkflow(async (topic) => DBOS.recv(topicOf(topic), 60), { name: 'blocker' });

DBOS.registerWorkflow(async (tag) => ({ tag }), { name: 'stamp' });

DBOS.registerWorkflow(
  async (when, ctx) => {
    const isDate = when instanceof Date;
    return { when: isDate ? when.toISOString() : when, is_date: isDate, ctx };
  },
  { name: 'scheduled' },
);

DBOS.registerWorkflow(
  async (when, ctx) => {
    const kind = (v) => (v === null || v === undefined ? String(v) : (v.constructor?.name ?? typeof v));
    const text = (v) => (v instanceof Date ? v.toISOString() : String(v));
    const entries = Object.entries(ctx).map(([k, v]) => [k, [kind(v), text(v)]]);
    return { is_date: when instanceof Date, ctx: Object.fromEntries(entries) };
  },
  { name: 'scheduled_types' },
);

// Writes each value to stream `key`; optionally waits on recv(topic) before closing it.
DBOS.registerWorkflow(
  async (key, values, close = true, topic = null) => {
    for (const v of values) {
      await DBOS.writeStream(key, v);
    }
    if (topic !== null && topic !== undefined) {
      await DBOS.recv(topic, 60);
    }
    if (close) {
      await DBOS.closeStream(key);
    }
    return values.length;
  },
  { name: 'write_stream_wf' },
);

DBOS.registerWorkflow(
  async (key, topic, children = 0) => {
    await DBOS.runStep(async () => 0, { name: 'step_value' });
    await DBOS.setEvent(key, 'set');
    await DBOS.writeStream(key, 'v0');
    await DBOS.closeStream(key);
    const handles = [];
    for (let i = 0; i < children; i++) {
      handles.push(await DBOS.startWorkflow(echo)(i));
    }
    const results = [];
    for (const handle of handles) {
      results.push(await handle.getResult());
    }
    return { message: await DBOS.recv(topicOf(topic), 60), children: results };
  },
  { name: 'leave_traces' },
);

// ---------------------------------------------------------------------------------------------- main

function log(msg) {
  process.stderr.write(`[dbosd-worker-ts] ${msg}\n`);
}

/** `name[:concurrency]` items, comma-separated. */
function parseQueues(spec) {
  const out = [];
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const [name, conc] = item.split(':', 2).map((s) => s.trim());
    if (!name) throw new Error(`WORKER_QUEUES: empty queue name in ${JSON.stringify(spec)}`);
    out.push({ name, concurrency: conc ? Number.parseInt(conc, 10) : undefined });
  }
  return out;
}

/** DBOS TS log levels are winston's; accept the Python spellings the harness passes. */
function logLevel(level) {
  const l = (level || 'info').toLowerCase();
  return { warning: 'warn', critical: 'error' }[l] ?? l;
}

async function registerQueue(name, concurrency) {
  await DBOS.registerQueue(name, {
    globalConcurrency: concurrency,
    minPollingIntervalMs: POLLING_INTERVAL_MS,
    onConflict: 'always_update',
  });
}

/** WORKER_SELF_START: workflows started inside this app, for dbosd to read back. */
async function selfStart(prefix, valueText) {
  const value = JSON.parse(valueText || 'null');
  await DBOS.startWorkflow(echo, { workflowID: `${prefix}-native` })(value);
  await DBOS.enqueueWorkflowWithOptions(
    {
      queueName: 'test_queue',
      workflowName: 'echo',
      workflowID: `${prefix}-portable`,
      serializationType: 'portable',
    },
    value,
  );
}

async function main() {
  const url = process.env.DBOS_SYSTEM_DATABASE_URL;
  if (!url) {
    log('DBOS_SYSTEM_DATABASE_URL is required');
    process.exit(2);
  }
  const extraQueues = parseQueues(process.env.WORKER_QUEUES ?? '');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Workflows still running (a sleeping one, say) do not keep the process alive: shut down
    // without waiting for them, bounded by a watchdog, then exit.
    setTimeout(() => process.exit(0), 5000).unref();
    try {
      await DBOS.shutdown();
    } catch (e) {
      log(`shutdown: ${e?.stack ?? e}`);
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const config = {
    name: process.env.WORKER_APP_NAME || 'dbosd-test',
    systemDatabaseUrl: url,
    logLevel: logLevel(process.env.WORKER_LOG_LEVEL),
  };
  if (process.env.WORKER_APP_VERSION) config.applicationVersion = process.env.WORKER_APP_VERSION;
  if (process.env.WORKER_EXECUTOR_ID) config.executorID = process.env.WORKER_EXECUTOR_ID;

  try {
    DBOS.setConfig(config);
    await DBOS.launch();
    if (!['1', 'true'].includes(process.env.WORKER_NO_DEFAULT_QUEUES ?? '')) {
      await registerQueue('test_queue', undefined);
      await registerQueue('serial_queue', 1);
    }
    for (const { name, concurrency } of extraQueues) {
      await registerQueue(name, concurrency);
    }
    if (process.env.WORKER_SELF_START) {
      await selfStart(process.env.WORKER_SELF_START, process.env.WORKER_SELF_START_VALUE);
    }
  } catch (e) {
    log(`startup failed: ${e?.stack ?? e}`);
    process.exit(1);
  }
  process.stdout.write(`${READY_LINE}\n`);
}

await main();
