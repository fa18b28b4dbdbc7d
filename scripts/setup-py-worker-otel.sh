#!/usr/bin/env bash
# Create (or refresh) the virtualenv of the Python DBOS worker WITH OpenTelemetry (dbos[otel]),
# used by the trace tests (tests/it/otel/): <repo>/.venv-worker-otel with
# tests/worker/py/requirements-otel.txt. A venv of its own, so the shared .venv-worker is never
# rebuilt for it.
#
# Idempotent: a stamp file records a hash of the requirements and the interpreter version.
# Env:  PYTHON  interpreter used to create the venv (default: python3)
# Prints the venv's python path on stdout; progress goes to stderr.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"
venv="${repo_root}/.venv-worker-otel"
req="${repo_root}/tests/worker/py/requirements-otel.txt"
stamp="${venv}/.dbosd-requirements.sha256"
python="${PYTHON:-python3}"

want_hash() {
    {
        sha256sum "${req}" | cut -d' ' -f1
        "${python}" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [[ -x "${venv}/bin/python" && -f "${stamp}" ]] \
        && [[ "$(cat "${stamp}")" == "$(want_hash)" ]] \
        && "${venv}/bin/python" -c 'import dbos, opentelemetry.exporter.otlp.proto.http' >/dev/null 2>&1
}

if up_to_date; then
    echo "${venv}/bin/python"
    exit 0
fi

# Serialize concurrent runs (several tests may ask at once).
exec 9>"${repo_root}/.venv-worker-otel.lock"
flock 9
if up_to_date; then
    echo "${venv}/bin/python"
    exit 0
fi

echo "setup-py-worker-otel: creating ${venv}" >&2
rm -rf "${venv}"
"${python}" -m venv "${venv}"
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${req}" >&2
"${venv}/bin/python" -c 'import dbos, opentelemetry.exporter.otlp.proto.http' >/dev/null
want_hash >"${stamp}"
echo "setup-py-worker-otel: ready" >&2
echo "${venv}/bin/python"
