#!/usr/bin/env bash
# Install (or refresh) the node modules of the real TypeScript DBOS worker used by the integration
# tests: `npm ci` in tests/worker/ts, which pins @dbos-inc/dbos-sdk 5.3.0 through package-lock.json,
# into tests/worker/ts/node_modules (git-ignored).
#
# Idempotent: a stamp file inside node_modules records a hash of package-lock.json and of the node
# version; when it matches, the script exits at once. Concurrent runs are serialized with flock.
#
# Env:  NODE, NPM  the node and npm executables (default: node, npm)
# Prints the path of the node executable on stdout; progress goes to stderr.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"
app_dir="${repo_root}/tests/worker/ts"
lockfile="${app_dir}/package-lock.json"
modules="${app_dir}/node_modules"
stamp="${modules}/.dbosd-package-lock.sha256"
node="${NODE:-node}"
npm="${NPM:-npm}"

if ! command -v "${node}" >/dev/null 2>&1 || ! command -v "${npm}" >/dev/null 2>&1; then
    echo "setup-ts-worker: node and npm are required (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
if [[ ! -f "${lockfile}" ]]; then
    echo "setup-ts-worker: missing ${lockfile}" >&2
    exit 1
fi

want_hash() {
    {
        sha256sum "${lockfile}" | cut -d' ' -f1
        "${node}" --version
    } | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [[ -f "${stamp}" && -f "${modules}/@dbos-inc/dbos-sdk/package.json" ]] \
        && [[ "$(cat "${stamp}")" == "$(want_hash)" ]]
}

node_path() {
    command -v "${node}"
}

if up_to_date; then
    node_path
    exit 0
fi

# Serialize concurrent runs (e.g. several test binaries starting at once).
lock="${repo_root}/.ts-worker.lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"${lock}"
    flock 9
    # Another run may have finished the job while we waited.
    if up_to_date; then
        node_path
        exit 0
    fi
fi

echo "setup-ts-worker: npm ci in ${app_dir}" >&2
(cd "${app_dir}" && "${npm}" ci --no-audit --no-fund --loglevel=error >&2)
(cd "${app_dir}" && "${node}" --input-type=module -e "await import('@dbos-inc/dbos-sdk')") \
    || { echo "setup-ts-worker: @dbos-inc/dbos-sdk does not load" >&2; exit 1; }
want_hash >"${stamp}"
echo "setup-ts-worker: ready" >&2
node_path
