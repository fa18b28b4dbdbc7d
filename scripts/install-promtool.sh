#!/usr/bin/env bash
# Installs promtool (Debian's `prometheus` package) for the test that checks and unit-tests the
# alert rules in deploy/prometheus/ (tests/it/workflow_metrics/deploy.rs), only when no promtool
# is on PATH. Needs root (or sudo) for apt-get; prints nothing on stdout.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
    exit 0
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { echo "install-promtool: need root or sudo to apt-get install prometheus" >&2; exit 1; }
    sudo="sudo"
fi
echo "install-promtool: apt-get install prometheus (for promtool)" >&2
${sudo} apt-get update -qq >&2
# Only promtool is wanted, not a Prometheus server: a policy-rc.d that refuses (101) keeps the
# package's service from being started where no init system manages it (removed afterwards).
policy=/usr/sbin/policy-rc.d
made_policy=""
if [[ ! -e "${policy}" ]]; then
    printf '#!/bin/sh\nexit 101\n' | ${sudo} tee "${policy}" >/dev/null
    ${sudo} chmod +x "${policy}"
    made_policy=1
fi
DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends prometheus >&2 \
    || status=$?
if [[ -n "${made_policy}" ]]; then
    ${sudo} rm -f "${policy}"
fi
[[ -z "${status:-}" ]] || exit "${status}"
promtool --version >&2
