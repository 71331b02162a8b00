"""A throwaway PostgreSQL server for the test session (Debian's package; `initdb` in a temporary folder, a free
loopback port, stopped and removed at the end), and a fresh database in it per test."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SQLITE, POSTGRESQL = "sqlite", "postgresql"


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is missing: apt-get install -y postgresql (the README test command does); "
            "the catalog tests run on SQLite and on a real PostgreSQL."
        )
    return Path(found[-1]).parent


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="wb-pg-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        as_root = os.geteuid() == 0  # initdb refuses to run as root: run the server as the postgres user
        self.prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        if as_root:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "wb", "--no-sync")
        self._run(
            "pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w",
            "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start",
        )  # fmt: skip
        self.url = f"postgresql+psycopg://wb@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.bin / tool), *args], check=True, capture_output=True, timeout=120)

    def fresh_database(self) -> str:
        """The URL of a new, empty database on this server."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        for attempt in range(50):
            try:
                with psycopg.connect(f"host=127.0.0.1 port={self.port} user=wb dbname=postgres", autocommit=True) as c:
                    c.execute(f'CREATE DATABASE "{name}"')
                break
            except psycopg.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.1)  # the server is still starting
        return f"postgresql+psycopg://wb@127.0.0.1:{self.port}/{name}"

    def pause(self) -> None:
        """Stop the server at once, as a crash or an outage does; its data stays for `resume`."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w",
            "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start",
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped (a test paused it)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
