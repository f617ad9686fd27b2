#!/bin/sh
# The sandbox mailbox's keys, once, into DIR (0600, readable by you only):
#   sh deploy/sftp/new-keys.sh DIR HOST
# ssh_host_ed25519_key (the server's host key) and authorized_keys (the connector's
# public key) for the SFTP server; id_ed25519 (the connector's key) and known_hosts (the
# server's host key pinned for HOST, as the connector dials it: `[sftp]:2222` in compose,
# `rcm-sftp` in Kubernetes, whose Service listens on 22) for the connector. A key already
# in DIR is kept; known_hosts and authorized_keys are written from the keys each time.
set -eu
dir="$1"
host="$2"
umask 077
mkdir -p "$dir"
command -v ssh-keygen >/dev/null 2>&1 || { echo "ssh-keygen not found (openssh-client)" >&2; exit 1; }
[ -e "$dir/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N "" -C rcm-sandbox-sftp -f "$dir/ssh_host_ed25519_key"
[ -e "$dir/id_ed25519" ] ||
    ssh-keygen -q -t ed25519 -N "" -C rcm-connector-sandbox -f "$dir/id_ed25519"
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
set -- $(cat "$dir/ssh_host_ed25519_key.pub")
echo "$host $1 $2" > "$dir/known_hosts"
