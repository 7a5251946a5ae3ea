"""Start the local PostgreSQL server for the test suite and print its URL.

``make test`` runs this as root on a Debian machine: it starts the first cluster
that ``pg_lsclusters`` lists (there is no init system here, so ``pg_ctlcluster``
does it), creates the ``cumulo_test`` role and database if needed, and prints a
SQLAlchemy URL on stdout.  Tests make one schema each inside that database.

Without root or without PostgreSQL it prints ``$CUMULO_TEST_PG_URL`` (possibly
empty); the PostgreSQL tests then skip unless ``CUMULO_REQUIRE_PG=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

ROLE = "cumulo_test"
PASSWORD = "cumulo_test"  # loopback-only throwaway test database


def psql(sql: str) -> str:
    result = subprocess.run(
        ["su", "postgres", "-c", f'psql -XAtq -c "{sql}"'],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def main() -> int:
    fallback = os.environ.get("CUMULO_TEST_PG_URL", "")
    if os.geteuid() != 0 or not shutil.which("pg_lsclusters"):
        print(fallback)
        return 0
    clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    if not clusters.strip():
        print("cumulo: no PostgreSQL cluster found (pg_lsclusters is empty)", file=sys.stderr)
        print(fallback)
        return 0
    version, name, port, status = clusters.split()[:4]
    if status != "online":
        # pg_ctlcluster talks on stdout ("Removed stale pid file."); stdout is
        # reserved for the URL, so its chatter goes to stderr.
        subprocess.run(["pg_ctlcluster", version, name, "start"], check=True, stdout=sys.stderr)
    for _ in range(50):
        if subprocess.run(["pg_isready", "-q", "-p", port], stdout=sys.stderr).returncode == 0:
            break
        time.sleep(0.2)
    if psql(f"SELECT 1 FROM pg_roles WHERE rolname='{ROLE}'") != "1":
        psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
    if psql(f"SELECT 1 FROM pg_database WHERE datname='{ROLE}'") != "1":
        psql(f"CREATE DATABASE {ROLE} OWNER {ROLE}")
    print(f"postgresql+psycopg://{ROLE}:{PASSWORD}@127.0.0.1:{port}/{ROLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
