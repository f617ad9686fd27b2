"""Certificates for the local CAQH CORE endpoint, from the CA the stack already keeps
for PostgreSQL (``rcm/stack.py``: ``pg/tls/ca.crt``).

Once per stack, into ``<stack_dir>/core/``: ``ca.crt`` (a copy of the CA certificate:
what the pipeline's CORE client verifies the endpoint against), ``server.crt`` and
``server.key`` (the simulator's endpoint, for 127.0.0.1 and localhost), and
``client.crt`` and ``client.key`` (a client certificate, for an endpoint that asks for
one). Keys are 0600.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from rcm.stack_base import EC_KEY, StackError, log, openssl_in


def core_dir(stack_dir: Path) -> Path:
    return stack_dir / "core"


def core_certificates(stack_dir: Path, ca_dir: Path) -> Path:
    """Makes the CORE endpoint's and client's key pairs once; returns their folder."""
    out = core_dir(stack_dir)
    if (out / "client.crt").exists():
        return out
    tmp = out.with_name("core.partial")
    run = openssl_in(tmp, "the CORE endpoint")
    if not (ca_dir / "ca.key").exists():
        raise StackError(f"the local stack CA is missing ({ca_dir}); run rcm stack up")
    log("creating the local CORE endpoint and client certificates (once)")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ec = EC_KEY
    ca = ("-CA", str(ca_dir / "ca.crt"), "-CAkey", str(ca_dir / "ca.key"))
    for name, subject, ext in (
        ("server", "/CN=localhost", "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n"
         "extendedKeyUsage = serverAuth\n"),
        ("client", "/CN=rcm-pipeline-core-client", "extendedKeyUsage = clientAuth\n"),
    ):  # fmt: skip
        run("req", *ec, "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr")
        (tmp / f"{name}.ext").write_text(
            f"{ext}basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\n"
        )
        serial = str(secrets.randbits(63))  # no serial file written next to the CA
        run("x509", "-req", "-in", f"{name}.csr", *ca, "-set_serial", serial, "-days", "3650",
            "-extfile", f"{name}.ext", "-out", f"{name}.crt")  # fmt: skip
        (tmp / f"{name}.key").chmod(0o600)
    shutil.copyfile(ca_dir / "ca.crt", tmp / "ca.crt")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
