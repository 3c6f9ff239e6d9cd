"""The image's HEALTHCHECK: exit 0 when rivetqd answers ``/readyz`` with 200.

It reads the HTTP address the way rivetqd does (config file, then ``RIVETQ_*``
environment), so a changed port or TLS needs no change here."""

import os
import ssl
import sys
import urllib.request
from pathlib import Path

from rivetq.settings import load_settings, parse_addr


def readyz_url() -> str:
    config = os.environ.get("RIVETQ_CONFIG") or ("config.yaml" if Path("config.yaml").is_file() else None)
    server = load_settings(config_path=config).server
    host, port = parse_addr(server.http_addr)
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    scheme = "https" if server.tls_cert_file else "http"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}/readyz"


def main() -> int:
    # The check runs inside the container against its own server: the certificate, if
    # any, is the server's own and is not what is checked here.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(readyz_url(), timeout=3, context=context) as reply:
            return 0 if reply.status == 200 else 1
    except (OSError, ValueError) as error:
        print(f"healthcheck: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
