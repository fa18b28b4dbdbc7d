"""A real, unmodified DBOS (Python, dbos==3.4.0) worker for dbosd's integration tests.

Launched by the Rust tests as
    <repo>/.venv-worker/bin/python tests/worker/py/app.py
with configuration from the environment only:

    DBOS_SYSTEM_DATABASE_URL  required, postgres URL of the system database
    WORKER_APP_NAME           DBOS application name (default "dbosd-test")
    WORKER_APP_VERSION        optional DBOS application_version (else DBOS computes one)
    WORKER_EXECUTOR_ID        optional DBOS executor_id (else "local")
    WORKER_QUEUES             optional extra queues, comma-separated "name[:concurrency]"
    WORKER_NO_DEFAULT_QUEUES  optional; "1" skips test_queue/serial_queue (queue names are owned
                              by one application per system database: a second app name on the
                              same database must use its own queue names)
    WORKER_LOG_LEVEL          optional DBOS log level (default INFO)
    WORKER_OTLP_TRACES_ENDPOINT  optional OTLP/HTTP traces URL: turns on DBOS's own tracing
                              (enable_otlp, otlp_traces_endpoints); needs dbos[otel]
                              (.venv-worker-otel)
    WORKER_SELF_START         optional workflow id prefix: after launch the app itself starts `echo`
                              twice with the value WORKER_SELF_START_VALUE (JSON text, default null):
                              "<prefix>-native" directly (DBOS.start_workflow: the Python default,
                              py_pickle) and "<prefix>-portable" enqueued by name on test_queue with
                              portable serialization (portable_json)

After launch it registers its queues, prints exactly "DBOSD-WORKER-READY" on stdout
and waits for SIGTERM/SIGINT. DBOS logs go to stderr; nothing else is printed on stdout.

Workflows (registered under their bare function names):
    echo(x) -> x
    add(a, b) -> a + b
    wait_recv(topic=None, timeout_sec=30) -> DBOS.recv(topic, timeout_sec) (None on timeout)
    set_event_wf(key, value) -> value, after set_event(key, value)
    set_events_then_wait(key, values, topic, interval_sec=0) -> recv(topic, 60),
        after set_event(key, v) for each v in values (DBOS.sleep(interval_sec) between them if > 0)
    fail(message, code=None) raises InteropError(message, code)
    sleepy(seconds) -> seconds, after DBOS.sleep(seconds)
    multi_step(n) -> [0, 1, ..., n-1], one DBOS step (step_value) per element
    blocker(topic) -> recv(topic, 60)
    stamp(tag) -> {"tag": tag}
    leave_traces(key, topic, children=0) -> {"message": recv(topic), "children": [0..children-1]},
        after a step, set_event(key), a closed stream `key` and `children` child echo workflows:
        a row in every table a workflow can own
    scheduled(when, ctx) -> {"when": when.isoformat(), "is_date": <when is a datetime>, "ctx": ctx}
        (the signature DBOS schedules call: scheduled time, schedule context)
    scheduled_types(when, ctx) -> {"is_date": <when is a datetime>, "ctx": {key: [<module.qualname
        of the value's type>, repr(value)]}} for a dict context: what the worker really unpickled
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from datetime import datetime
from typing import Any, List, Optional, Tuple

from dbos import DBOS, DBOSConfig, SetWorkflowID, WorkflowSerializationFormat

READY_LINE = "DBOSD-WORKER-READY"
POLLING_INTERVAL_SEC = 0.1


class InteropError(Exception):
    """Raised by `fail`; its portable error envelope is
    {"name":"InteropError","message":<message>,"code":<code>}."""

    def __init__(self, message: str, code: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __reduce__(self) -> Any:  # keep `code` when pickled (py_pickle workflows)
        return (InteropError, (self.message, self.code))


# --------------------------------------------------------------------------- workflows


@DBOS.workflow()
def echo(x: Any) -> Any:
    return x


@DBOS.workflow()
def add(a: Any, b: Any) -> Any:
    return a + b


@DBOS.workflow()
def wait_recv(topic: Optional[str] = None, timeout_sec: float = 30) -> Any:
    return DBOS.recv(topic, timeout_sec)


@DBOS.workflow()
def set_event_wf(key: str, value: Any) -> Any:
    DBOS.set_event(key, value)
    return value


@DBOS.workflow()
def set_events_then_wait(
    key: str, values: List[Any], topic: Optional[str], interval_sec: float = 0
) -> Any:
    for i, v in enumerate(values):
        if i > 0 and interval_sec and interval_sec > 0:
            DBOS.sleep(interval_sec)
        DBOS.set_event(key, v)
    return DBOS.recv(topic, 60)


@DBOS.workflow()
def fail(message: str, code: Any = None) -> Any:
    raise InteropError(message, code)


@DBOS.workflow()
def sleepy(seconds: float) -> Any:
    DBOS.sleep(seconds)
    return seconds


@DBOS.step()
def step_value(i: int) -> int:
    return i


@DBOS.workflow()
def multi_step(n: int) -> List[int]:
    return [step_value(i) for i in range(n)]


@DBOS.workflow()
def blocker(topic: Optional[str]) -> Any:
    return DBOS.recv(topic, 60)


@DBOS.workflow()
def stamp(tag: Any) -> Any:
    return {"tag": tag}


@DBOS.workflow()
def scheduled(when: datetime, ctx: Any) -> Any:
    is_date = isinstance(when, datetime)
    return {"when": when.isoformat() if is_date else when, "is_date": is_date, "ctx": ctx}


@DBOS.workflow()
def scheduled_types(when: datetime, ctx: Any) -> Any:
    def kind(v: Any) -> str:
        return f"{type(v).__module__}.{type(v).__qualname__}"

    return {
        "is_date": isinstance(when, datetime),
        "ctx": {k: [kind(v), repr(v)] for k, v in ctx.items()},
    }


@DBOS.workflow()
def write_stream_wf(key: str, values: List[Any], close: bool = True, topic: Optional[str] = None) -> Any:
    """Writes each value to stream `key`; optionally waits on recv(topic) before closing it."""
    for v in values:
        DBOS.write_stream(key, v)
    if topic is not None:
        DBOS.recv(topic, 60)
    if close:
        DBOS.close_stream(key)
    return len(values)


@DBOS.workflow()
def leave_traces(key: str, topic: str, children: int = 0) -> Any:
    step_value(0)
    DBOS.set_event(key, "set")
    DBOS.write_stream(key, "v0")
    DBOS.close_stream(key)
    handles = [DBOS.start_workflow(echo, i) for i in range(children)]
    results = [h.get_result() for h in handles]
    return {"message": DBOS.recv(topic, 60), "children": results}


# --------------------------------------------------------------------------- main


def _parse_queues(spec: str) -> List[Tuple[str, Optional[int]]]:
    out: List[Tuple[str, Optional[int]]] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, conc = item.partition(":")
        name = name.strip()
        if not name:
            raise ValueError(f"WORKER_QUEUES: empty queue name in {spec!r}")
        out.append((name, int(conc) if sep and conc.strip() else None))
    return out


def _self_start(prefix: str, value_text: str) -> None:
    """WORKER_SELF_START: workflows started inside this app, for dbosd to read back."""
    value = json.loads(value_text or "null")
    with SetWorkflowID(f"{prefix}-native"):
        DBOS.start_workflow(echo, value)
    DBOS.enqueue_workflow_with_options(
        {
            "workflow_name": "echo",
            "queue_name": "test_queue",
            "workflow_id": f"{prefix}-portable",
            "serialization_type": WorkflowSerializationFormat.PORTABLE,
        },
        value,
    )


def _log(msg: str) -> None:
    print(f"[dbosd-worker] {msg}", file=sys.stderr, flush=True)


def main() -> None:
    url = os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if not url:
        _log("DBOS_SYSTEM_DATABASE_URL is required")
        os._exit(2)
    extra_queues = _parse_queues(os.environ.get("WORKER_QUEUES", ""))

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    config: DBOSConfig = {
        "name": os.environ.get("WORKER_APP_NAME") or "dbosd-test",
        "system_database_url": url,
        "log_level": os.environ.get("WORKER_LOG_LEVEL") or "INFO",
    }
    if os.environ.get("WORKER_APP_VERSION"):
        config["application_version"] = os.environ["WORKER_APP_VERSION"]
    if os.environ.get("WORKER_EXECUTOR_ID"):
        config["executor_id"] = os.environ["WORKER_EXECUTOR_ID"]
    if os.environ.get("WORKER_OTLP_TRACES_ENDPOINT"):
        config["enable_otlp"] = True
        config["otlp_traces_endpoints"] = [os.environ["WORKER_OTLP_TRACES_ENDPOINT"]]

    try:
        DBOS(config=config)
        DBOS.launch()
        if os.environ.get("WORKER_NO_DEFAULT_QUEUES", "") not in ("1", "true"):
            DBOS.register_queue(
                "test_queue",
                polling_interval_sec=POLLING_INTERVAL_SEC,
                on_conflict="always_update",
            )
            DBOS.register_queue(
                "serial_queue",
                global_concurrency=1,
                polling_interval_sec=POLLING_INTERVAL_SEC,
                on_conflict="always_update",
            )
        for name, conc in extra_queues:
            DBOS.register_queue(
                name,
                global_concurrency=conc,
                polling_interval_sec=POLLING_INTERVAL_SEC,
                on_conflict="always_update",
            )
        if os.environ.get("WORKER_SELF_START"):
            _self_start(
                os.environ["WORKER_SELF_START"],
                os.environ.get("WORKER_SELF_START_VALUE", ""),
            )
    except BaseException:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)

    sys.stdout.write(READY_LINE + "\n")
    sys.stdout.flush()

    while not stop.wait(0.5):
        pass

    # DBOS.destroy() does not join workflow threads that are still running (they are
    # non-daemon and may sleep for long), so exit hard afterwards; a watchdog bounds
    # destroy() itself (it joins background threads with 10 s timeouts).
    watchdog = threading.Timer(5.0, lambda: os._exit(0))
    watchdog.daemon = True
    watchdog.start()
    try:
        DBOS.destroy()
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
