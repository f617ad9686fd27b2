#!/bin/sh
# Writes deploy/compose/.env once, with random secrets readable by you only (0600).
# Compose reads it beside compose.yaml; compose.yaml has no fallback passwords.
set -eu
out="$(dirname "$0")/.env"
if [ -e "$out" ]; then
    echo "$out exists: keeping it" >&2
    exit 0
fi
umask 077
rand() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
{
    echo "POSTGRES_PASSWORD=$(rand)"
    echo "RCM_OPS_TOKEN=$(rand)"
    echo "RCM_CLEARINGHOUSE_TOKEN=$(rand)"
    echo "RCM_STATEMENT_LINK_KEY=$(rand)"
    echo "RCM_AUDIT_KEY=$(rand)"
    echo "GRAFANA_ADMIN_PASSWORD=$(rand)"
} > "$out"
echo "wrote $out (mode 0600)"
