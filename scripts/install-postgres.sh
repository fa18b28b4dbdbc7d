#!/usr/bin/env bash
# Makes sure the PostgreSQL *server* binaries (initdb, postgres) and the `postgres`
# OS user exist, for dbosd's throwaway local clusters (src/pgcluster.rs): used by
# `dbosd start-dev`, the integration tests and CI; and Debian's pgbouncer, which the
# transaction-pooling test runs in front of a test database. Fast no-op when present.
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

apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
apt_updated=no
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        log "apt-get is unavailable; install $* with your package manager"
        return 1
    fi
    if [ "$apt_updated" = no ]; then
        as_root "${apt[@]}" update
        apt_updated=yes
    fi
    as_root "${apt[@]}" install --no-install-recommends "$@"
}

if initdb_path=$(find_initdb); then
    log "server binaries present: $initdb_path"
else
    log "initdb not found; installing Debian package postgresql with apt-get"
    # postgresql-common first, so no system "main" cluster gets created and started.
    apt_install postgresql-common
    conf=/etc/postgresql-common/createcluster.conf
    if [ -f "$conf" ]; then
        as_root sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$conf"
        log "set create_main_cluster = false in $conf"
    fi
    apt_install postgresql
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

if [ -x /usr/sbin/pgbouncer ]; then
    log "pgbouncer present"
else
    log "pgbouncer not found; installing Debian package pgbouncer with apt-get"
    apt_install pgbouncer
fi
