#!/usr/bin/env bash
# Runs every test of dbosd on a fresh machine: installs what the tests need (PostgreSQL server
# binaries, the DBOS Python worker's virtualenv, the DBOS TypeScript worker's node modules, the gRPC
# clients the README and examples use: grpcurl, grpcio, @grpc/grpc-js, @connectrpc/connect; headless
# Chromium for the browser test; promtool for the alert rules; the DBOS Python worker with
# OpenTelemetry for the trace tests), then
# runs the whole suite. The test harness starts its own private PostgreSQL on a free loopback port
# unless DBOS_TEST_DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-postgres.sh
scripts/setup-py-worker.sh >/dev/null
scripts/setup-ts-worker.sh >/dev/null
scripts/setup-clients.sh
scripts/install-browser.sh
scripts/install-promtool.sh
scripts/setup-py-worker-otel.sh >/dev/null
cargo test --locked "$@"
