#!/usr/bin/env bash
# Makes sure the PostgreSQL *server* binaries (initdb, postgres) and the `postgres`
# OS user exist, for dbosd's throwaway local clusters (src/pgcluster.rs): used by
# `dbosd start-dev`, the integration tests and CI. Fast no-op when already present.
#
# - Looks for initdb on PATH, then /usr/lib/postgresql/*/bin/initdb (Debian layout).
# - Otherwise installs Debian's `postgresql` with apt-get (via sudo when not root).
#   On a fresh install it first sets create_main_cluster = false in
#   /etc/postgresql-common/createcluster.conf, so the package does not create (or
#   start) a system "main" cluster: dbosd never uses one, it runs its own clusters on
#   free ports with private socket dirs. An existing system cluster is left alone.
# - The `postgres` user is needed because initdb/postgres refuse to run as root; as
#   root, pgcluster.rs runs them as that user.
set -euo pipefail

log() { printf 'install-postgres: %s\n' "$*"; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        SUDO=(no-root)
    fi
fi

# Runs a command as root (directly, or through sudo); fails clearly when we can't.
as_root() {
    if [ "${SUDO[*]}" = no-root ]; then
        log "need root for: $* (not root and no sudo); run this script as root"
        return 1
    fi
    "${SUDO[@]}" "$@"
}

find_initdb() {
    local found
    if found=$(command -v initdb 2>/dev/null); then
        printf '%s\n' "$found"
        return 0
    fi
    for found in /usr/lib/postgresql/*/bin/initdb; do
        if [ -x "$found" ]; then
            printf '%s\n' "$found"
            return 0
        fi
    done
    return 1
}

if initdb_path=$(find_initdb); then
    log "server binaries present: $initdb_path"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        log "initdb not found and apt-get is unavailable; install the PostgreSQL server (initdb, postgres) with your package manager"
        exit 1
    fi
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
    log "initdb not found; installing Debian package postgresql with apt-get"
    as_root "${apt[@]}" update
    # postgresql-common first, so no system "main" cluster gets created and started.
    as_root "${apt[@]}" install --no-install-recommends postgresql-common
    conf=/etc/postgresql-common/createcluster.conf
    if [ -f "$conf" ]; then
        as_root sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$conf"
        log "set create_main_cluster = false in $conf"
    fi
    as_root "${apt[@]}" install --no-install-recommends postgresql
    initdb_path=$(find_initdb) || { log "postgresql installed but initdb still not found"; exit 1; }
    log "installed PostgreSQL server: $initdb_path ($("$initdb_path" --version))"
fi

if getent passwd postgres >/dev/null 2>&1; then
    log "OS user postgres present"
elif [ "${SUDO[*]}" = no-root ]; then
    log "OS user postgres missing; only needed when dbosd runs as root, skipping (not root, no sudo)"
else
    nologin=$(command -v nologin || echo /usr/sbin/nologin)
    as_root useradd --system --user-group --home-dir /var/lib/postgresql \
        --shell "$nologin" --comment "PostgreSQL administrator" postgres
    log "created OS user postgres"
fi
