#!/bin/sh
# Writes deploy/compose/.env with random secrets readable by you only (0600): every
# secret compose.yaml asks for, among them one password per PostgreSQL role
# (runtime/pgroles.py all_roles()). A secret already in the file is kept; one missing
# (a new release asks for more) is added. compose.yaml has no fallback passwords.
# Also starts the connector's secrets once (deploy/compose/connector/, 0600): an SSH key
# for your clearinghouse account (give them id_ed25519.pub), an empty known_hosts (put
# their host key in it) and an empty account list (put your account in it: README,
# "Clearinghouse accounts"; key_file /run/secrets/connector_key, known_hosts
# /run/secrets/connector_known_hosts).
# And the sandbox profile's keys (deploy/compose/sandbox/, 0600, by deploy/sftp/new-keys.sh):
# the sftp service's host key and the connector's sandbox key, each pinned by the other
# side (known_hosts for sftp:2222, authorized_keys).
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
echo "connector secrets in $conn and $here/sandbox (0600): the connector runs as uid 10001, so" \
    "\`sudo chown -R 10001 $conn $here/sandbox\` once they are filled in" >&2
out="$here/.env"
[ -e "$out" ] || : > "$out"
rand() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
added=0
for name in POSTGRES_PASSWORD RCM_OPS_TOKEN RCM_CLEARINGHOUSE_TOKEN RCM_STATEMENT_LINK_KEY \
    RCM_AUDIT_KEY GRAFANA_ADMIN_PASSWORD \
    PG_RCM_ELIGIBILITY_OWNER_PASSWORD PG_RCM_CODING_OWNER_PASSWORD \
    PG_RCM_CLAIMS_OWNER_PASSWORD PG_RCM_SIMULATOR_OWNER_PASSWORD \
    PG_RCM_REMITTANCE_OWNER_PASSWORD PG_RCM_STATEMENTS_OWNER_PASSWORD \
    PG_RCM_GATEWAY_OWNER_PASSWORD PG_RCM_CONNECTOR_OWNER_PASSWORD \
    PG_RCM_ELIGIBILITY_PASSWORD PG_RCM_CODING_PASSWORD PG_RCM_CLAIMS_PASSWORD \
    PG_RCM_SIMULATOR_PASSWORD PG_RCM_REMITTANCE_PASSWORD PG_RCM_STATEMENTS_PASSWORD \
    PG_RCM_GATEWAY_PASSWORD PG_RCM_CONNECTOR_PASSWORD PG_RCM_GRAFANA_PASSWORD; do
    if ! grep -q "^$name=" "$out"; then
        echo "$name=$(rand)" >> "$out"
        added=$((added + 1))
    fi
done
chmod 600 "$out"
echo "$out: $added secrets added (mode 0600)"
if [ ! -e "$here/../sftp/new-keys.sh" ]; then
    echo "$here/../sftp/new-keys.sh not found: the sandbox profile's keys are not made" >&2
elif command -v ssh-keygen >/dev/null 2>&1; then
    sh "$here/../sftp/new-keys.sh" "$here/sandbox" "[sftp]:2222"
else
    echo "ssh-keygen not found: the sandbox profile's keys in $here/sandbox are not made" >&2
fi
