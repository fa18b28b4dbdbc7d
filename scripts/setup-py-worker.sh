#!/usr/bin/env bash
# Create (or refresh) the virtualenv holding the real Python DBOS worker used
# by the integration tests: <repo>/.venv-worker with tests/worker/py/requirements.txt.
# `setup-py-worker.sh otel`: the worker WITH OpenTelemetry (dbos[otel]) for the trace tests,
# <repo>/.venv-worker-otel with requirements-otel.txt, a venv of its own so the shared one is
# never rebuilt for it.
#
# Idempotent: a stamp file inside the venv records a hash of the requirements
# and of the interpreter version; when it matches, the script exits at once.
#
# Env:  PYTHON  interpreter used to create the venv (default: python3)
# Prints the venv's python path on stdout; progress goes to stderr.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"
variant="${1:-}"
case "${variant}" in
    "") suffix=""; check='import importlib.metadata as m; m.version("dbos")' ;;
    otel) suffix="-otel"; check='import dbos, opentelemetry.exporter.otlp.proto.http' ;;
    *) echo "setup-py-worker: unknown variant ${variant} (none or otel)" >&2; exit 2 ;;
esac
venv="${repo_root}/.venv-worker${suffix}"
req="${repo_root}/tests/worker/py/requirements${suffix}.txt"
stamp="${venv}/.dbosd-requirements.sha256"
python="${PYTHON:-python3}"

if [[ ! -f "${req}" ]]; then
    echo "setup-py-worker: missing ${req}" >&2
    exit 1
fi

want_hash() {
    {
        sha256sum "${req}" | cut -d' ' -f1
        "${python}" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [[ -x "${venv}/bin/python" && -f "${stamp}" ]] \
        && [[ "$(cat "${stamp}")" == "$(want_hash)" ]] \
        && "${venv}/bin/python" -c "${check}" >/dev/null 2>&1
}

if up_to_date; then
    echo "${venv}/bin/python"
    exit 0
fi

# Serialize concurrent runs (e.g. several test binaries starting at once).
mkdir -p "$(dirname "${venv}")"
lock="${repo_root}/.venv-worker${suffix}.lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"${lock}"
    flock 9
    # Another run may have finished the job while we waited.
    if up_to_date; then
        echo "${venv}/bin/python"
        exit 0
    fi
fi

echo "setup-py-worker${suffix}: creating ${venv}" >&2
rm -rf "${venv}"
"${python}" -m venv "${venv}"
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "${req}" >&2
"${venv}/bin/python" -c "${check}" >/dev/null
want_hash >"${stamp}"
echo "setup-py-worker${suffix}: ready" >&2
echo "${venv}/bin/python"
