#!/bin/sh
# Writes deploy/compose/.env once, with random secrets readable by you only (0600).
# Compose reads it beside compose.yaml; compose.yaml has no fallback passwords.
# Also starts the connector's secrets once (deploy/compose/connector/, 0600): an SSH key
# for your clearinghouse account (give them id_ed25519.pub), an empty known_hosts (put
# their host key in it) and an empty account list (put your account in it: README,
# "Clearinghouse accounts"; key_file /run/secrets/connector_key, known_hosts
# /run/secrets/connector_known_hosts).
set -eu
here="$(dirname "$0")"
umask 077
conn="$here/connector"
mkdir -p "$conn"
[ -e "$conn/accounts.json" ] || echo "[]" > "$conn/accounts.json"
[ -e "$conn/known_hosts" ] || : > "$conn/known_hosts"
if [ ! -e "$conn/id_ed25519" ]; then
    if command -v ssh-keygen >/dev/null 2>&1; then
        ssh-keygen -q -t ed25519 -N "" -C rcm-connector -f "$conn/id_ed25519"
    else
        : > "$conn/id_ed25519"
        echo "ssh-keygen not found: put your account's private key in $conn/id_ed25519" >&2
    fi
fi
echo "connector secrets in $conn (0600): the connector runs as uid 10001, so" \
    "\`sudo chown -R 10001 $conn\` once they are filled in" >&2
out="$here/.env"
if [ -e "$out" ]; then
    echo "$out exists: keeping it" >&2
    exit 0
fi
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
