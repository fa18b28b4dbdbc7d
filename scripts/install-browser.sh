#!/usr/bin/env bash
# Installs headless Chromium (Debian's `chromium` package) for the tests that call dbosd from
# browser JavaScript (tests/it/http/browser.rs) and drive the web console through Playwright
# (tests/it/console/browser.rs, pointed at /usr/bin/chromium: Playwright downloads no browser),
# only when no chromium is on PATH. Needs root (or sudo) for apt-get; prints nothing on stdout.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { echo "install-browser: need root or sudo to apt-get install chromium" >&2; exit 1; }
    sudo="sudo"
fi
echo "install-browser: apt-get install chromium" >&2
${sudo} apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends chromium >&2
chromium --version >&2
