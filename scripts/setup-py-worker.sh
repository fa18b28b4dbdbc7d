#!/usr/bin/env bash
# Create (or refresh) the virtualenv holding the real Python DBOS worker used
# by the integration tests: <repo>/.venv-worker with tests/worker/py/requirements.txt.
#
# Idempotent: a stamp file inside the venv records a hash of the requirements
# and of the interpreter version; when it matches, the script exits at once.
#
# Env:  PYTHON  interpreter used to create the venv (default: python3)
# Prints the venv's python path on stdout; progress goes to stderr.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"
venv="${repo_root}/.venv-worker"
req="${repo_root}/tests/worker/py/requirements.txt"
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
        && "${venv}/bin/python" -c 'import importlib.metadata as m; m.version("dbos")' >/dev/null 2>&1
}

if up_to_date; then
    echo "${venv}/bin/python"
    exit 0
fi

# Serialize concurrent runs (e.g. several test binaries starting at once).
mkdir -p "$(dirname "${venv}")"
lock="${repo_root}/.venv-worker.lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"${lock}"
    flock 9
    # Another run may have finished the job while we waited.
    if up_to_date; then
        echo "${venv}/bin/python"
        exit 0
    fi
fi

echo "setup-py-worker: creating ${venv}" >&2
rm -rf "${venv}"
"${python}" -m venv "${venv}"
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "${req}" >&2
"${venv}/bin/python" -c 'import dbos' >/dev/null
want_hash >"${stamp}"
echo "setup-py-worker: ready" >&2
echo "${venv}/bin/python"
