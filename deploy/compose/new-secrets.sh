#!/bin/sh
# Writes deploy/compose/.env with random secrets readable by you only (0600): every
# secret compose.yaml asks for, among them one password per PostgreSQL role
# (runtime/pgroles.py all_roles()). A secret already in the file is kept; one missing
# (a new release asks for more) is added. compose.yaml has no fallback passwords.
set -eu
out="$(dirname "$0")/.env"
umask 077
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
