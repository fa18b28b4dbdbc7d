"""Drive DBOS workflows through dbosd from Python, with a client generated from proto/ by grpcio-tools.

    python example.py [ADDRESS]          (or DBOSD_ADDRESS=host:port; default localhost:50051)

Needs a DBOS worker on the same system database that registers the workflows `add`, `wait_recv` and
`set_event_wf` and polls `_dbos_internal_queue` (tests/worker/py/app.py does). The client code is
generated into a temporary directory at start-up, so the example always matches proto/.

It enqueues a workflow and streams its result (AwaitWorkflow), sends a message to a workflow waiting
for it, watches an event (WatchEvent) and lists the workflows it started. It prints what it does and
exits non-zero on the first surprise.
"""

from __future__ import annotations

import importlib
import importlib.resources
import os
import pathlib
import sys
import tempfile
import uuid

import grpc
from grpc_tools import protoc

REPO = pathlib.Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO / "proto"
QUEUE = "_dbos_internal_queue"
WAIT_SEC = 60


def generate_client(out_dir: str):
    """Compiles proto/dbosd/v1/*.proto into out_dir and imports the generated modules."""
    wkt = str(importlib.resources.files("grpc_tools") / "_proto")
    files = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.glob("dbosd/v1/*.proto"))
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{wkt}", f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on proto/")
    sys.path.insert(0, out_dir)
    messages = importlib.import_module("dbosd.v1.workflow_service_pb2")
    services = importlib.import_module("dbosd.v1.workflow_service_pb2_grpc")
    return messages, services


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"example failed: {what}")


def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DBOSD_ADDRESS", "localhost:50051")
    with tempfile.TemporaryDirectory() as out_dir:
        pb, rpc = generate_client(out_dir)
        from dbosd.v1 import (  # generated above
            waits_pb2, workflow_filter_pb2, workflow_pb2, workflow_requests_pb2)
        from google.protobuf import duration_pb2, struct_pb2

        run = uuid.uuid4().hex[:8]
        with grpc.insecure_channel(address) as channel:
            stub = rpc.WorkflowServiceStub(channel)
            timeout = duration_pb2.Duration(seconds=WAIT_SEC)

            # 1. Enqueue add(2, 40) and stream its progress and result.
            named = struct_pb2.Struct()
            named.update({"b": 40})
            added = stub.EnqueueWorkflow(workflow_requests_pb2.EnqueueWorkflowRequest(
                workflow_name="add", queue_name=QUEUE, workflow_id=f"py-add-{run}",
                positional_args=[struct_pb2.Value(number_value=2)], named_args=named))
            print(f"enqueued {added.workflow_id}: {workflow_requests_pb2.EnqueueOutcome.Name(added.outcome)}")
            outcome = None
            for msg in stub.AwaitWorkflow(waits_pb2.AwaitWorkflowRequest(
                    workflow_id=added.workflow_id, timeout=timeout), timeout=WAIT_SEC + 5):
                if msg.HasField("status_update"):
                    print(f"  status {workflow_pb2.WorkflowStatus.Name(msg.status_update.status)}")
                else:
                    outcome = msg.outcome
            check(outcome is not None, "AwaitWorkflow ended without an outcome")
            check(outcome.status == workflow_pb2.WORKFLOW_STATUS_SUCCESS, f"add ended {outcome}")
            check(outcome.output.json.number_value == 42, f"add returned {outcome.output.text}")
            print(f"add(2, b=40) = {outcome.output.text}")

            # 2. Send a message to a workflow waiting for it on a topic.
            waiting = stub.EnqueueWorkflow(workflow_requests_pb2.EnqueueWorkflowRequest(
                workflow_name="wait_recv", queue_name=QUEUE, workflow_id=f"py-recv-{run}",
                positional_args=[struct_pb2.Value(string_value="greeting"),
                                 struct_pb2.Value(number_value=WAIT_SEC)]))
            message = struct_pb2.Value()
            message.struct_value.update({"hello": "world"})
            sent = stub.SendMessage(workflow_requests_pb2.SendMessageRequest(
                destination_id=waiting.workflow_id, topic="greeting", message=message))
            print(f"sent message {sent.message_id}")
            outcome = None
            for msg in stub.AwaitWorkflow(waits_pb2.AwaitWorkflowRequest(
                    workflow_id=waiting.workflow_id, timeout=timeout), timeout=WAIT_SEC + 5):
                if msg.HasField("outcome"):
                    outcome = msg.outcome
            check(outcome is not None and outcome.status == workflow_pb2.WORKFLOW_STATUS_SUCCESS,
                  f"wait_recv ended {outcome}")
            received = outcome.output.json.struct_value
            check(received["hello"] == "world", f"wait_recv returned {outcome.output.text}")
            print(f"wait_recv received {outcome.output.text}")

            # 3. Watch an event a workflow sets.
            setter = stub.EnqueueWorkflow(workflow_requests_pb2.EnqueueWorkflowRequest(
                workflow_name="set_event_wf", queue_name=QUEUE, workflow_id=f"py-event-{run}",
                positional_args=[struct_pb2.Value(string_value="progress"),
                                 struct_pb2.Value(string_value="half way")]))
            values = [m.value for m in stub.WatchEvent(waits_pb2.WatchEventRequest(
                workflow_id=setter.workflow_id, key="progress", timeout=timeout),
                timeout=WAIT_SEC + 5)]
            check(len(values) == 1 and values[0].json.string_value == "half way",
                  f"WatchEvent gave {values}")
            print(f"event progress = {values[0].text}")

            # 4. List the workflows this run started.
            listed = stub.ListWorkflows(pb.ListWorkflowsRequest(
                filter=workflow_filter_pb2.WorkflowFilter(
                    workflow_id_prefixes=[f"py-add-{run}", f"py-recv-{run}", f"py-event-{run}"])))
            for wf in listed.workflows:
                print(f"  {wf.workflow_id:24} {wf.workflow_name:14} "
                      f"{workflow_pb2.WorkflowStatus.Name(wf.status)}")
            check(len(listed.workflows) == 3, f"listed {len(listed.workflows)} workflows")
    print("python example: ok")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        raise SystemExit(f"example failed: {e.code().name}: {e.details()}")
