#!/usr/bin/env bash
# The Python DBOS worker with OpenTelemetry, for the trace tests (tests/it/otel/): see
# setup-py-worker.sh, whose `otel` variant this is. Prints the venv's python path on stdout.
exec "$(dirname "${BASH_SOURCE[0]}")/setup-py-worker.sh" otel
