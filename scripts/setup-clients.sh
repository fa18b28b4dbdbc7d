#!/usr/bin/env bash
# Installs the real gRPC clients the docs and examples use, for the tests that run them:
#   <repo>/.venv-clients   grpcio + grpcio-tools (examples/python) and grpcurl (README walkthrough),
#                          from examples/python/requirements.txt, and the official MCP Python SDK
#                          (tests/mcp/client.py), pinned in tests/mcp/requirements.txt
#   examples/node/node_modules   @grpc/grpc-js + @grpc/proto-loader, `npm ci` from the committed lock
#   tests/http/node_modules      @connectrpc/connect(-node) + @bufbuild/protobuf (the Connect client
#                                tests/it/http runs), `npm ci` from the committed lock
#   <repo>/.venv-browser   Playwright's Python package (tests/console/requirements.txt), which the
#                          console test (tests/it/console) drives Debian's /usr/bin/chromium with;
#                          no browser is downloaded (scripts/install-browser.sh installs chromium)
# Both are git-ignored. Idempotent: stamp files record hashes of the inputs; concurrent runs are
# serialized with flock.
#
# Env:  PYTHON, NODE, NPM (default: python3, node, npm)
# Prints nothing on stdout; progress goes to stderr.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
node="${NODE:-node}"
npm="${NPM:-npm}"

venv="${repo_root}/.venv-clients"
req="${repo_root}/examples/python/requirements.txt"
mcp_req="${repo_root}/tests/mcp/requirements.txt"
py_stamp="${venv}/.dbosd-requirements.sha256"
node_dir="${repo_root}/examples/node"
node_stamp="${node_dir}/node_modules/.dbosd-package-lock.sha256"

py_hash() { { sha256sum "${req}" "${mcp_req}"; "${python}" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1; }
node_hash() { { sha256sum "${node_dir}/package-lock.json"; "${node}" --version; } | sha256sum | cut -d' ' -f1; }
py_ready() { [[ -x "${venv}/bin/grpcurl" && -f "${py_stamp}" && "$(cat "${py_stamp}")" == "$(py_hash)" ]]; }
node_ready() { [[ -f "${node_stamp}" && "$(cat "${node_stamp}")" == "$(node_hash)" ]]; }
connect_dir="${repo_root}/tests/http"
connect_stamp="${connect_dir}/node_modules/.dbosd-package-lock.sha256"
connect_hash() { { sha256sum "${connect_dir}/package-lock.json"; "${node}" --version; } | sha256sum | cut -d' ' -f1; }
connect_ready() { [[ -f "${connect_stamp}" && "$(cat "${connect_stamp}")" == "$(connect_hash)" ]]; }

browser_venv="${repo_root}/.venv-browser"
browser_req="${repo_root}/tests/console/requirements.txt"
browser_stamp="${browser_venv}/.dbosd-requirements.sha256"
browser_hash() { { sha256sum "${browser_req}"; "${python}" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1; }
browser_ready() { [[ -f "${browser_stamp}" && "$(cat "${browser_stamp}")" == "$(browser_hash)" ]]; }

if py_ready && node_ready && connect_ready && browser_ready; then
    exit 0
fi

exec 9>"${repo_root}/.clients.lock"
flock 9

if ! py_ready; then
    echo "setup-clients: creating ${venv}" >&2
    rm -rf "${venv}"
    "${python}" -m venv "${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${req}" -r "${mcp_req}" >&2
    "${venv}/bin/python" -c 'import grpc, grpc_tools.protoc, mcp' >/dev/null
    "${venv}/bin/grpcurl" -version >&2
    py_hash >"${py_stamp}"
fi

if ! node_ready; then
    command -v "${npm}" >/dev/null || { echo "setup-clients: npm is required" >&2; exit 1; }
    echo "setup-clients: npm ci in ${node_dir}" >&2
    (cd "${node_dir}" && "${npm}" ci --no-audit --no-fund --loglevel=error >&2)
    node_hash >"${node_stamp}"
fi
if ! connect_ready; then
    command -v "${npm}" >/dev/null || { echo "setup-clients: npm is required" >&2; exit 1; }
    echo "setup-clients: npm ci in ${connect_dir}" >&2
    (cd "${connect_dir}" && "${npm}" ci --no-audit --no-fund --loglevel=error >&2)
    connect_hash >"${connect_stamp}"
fi
if ! browser_ready; then
    echo "setup-clients: creating ${browser_venv}" >&2
    rm -rf "${browser_venv}"
    "${python}" -m venv "${browser_venv}"
    # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: the package alone; the test points it at /usr/bin/chromium.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "${browser_venv}/bin/python" -m pip install --quiet \
        --disable-pip-version-check -r "${browser_req}" >&2
    "${browser_venv}/bin/python" -c 'import playwright.sync_api' >/dev/null
    browser_hash >"${browser_stamp}"
fi
echo "setup-clients: ready" >&2
