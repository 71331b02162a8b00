"""A real cluster for tests and the bench, started by the operator's own script (deploy/cluster.sh): PostgreSQL,
SeaweedFS, API replicas (and app replicas when asked) each with an empty local data folder, HAProxy in front; on
free loopback ports, in a temporary folder, stopped at the end."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from core.config import load_settings
from core.workbench import Workbench

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "cluster.sh"
OFFSETS = (0, 1, 2, 10, 11, 12, 20, 30, *range(40, 46), *range(10040, 10046))  # every port the script opens


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base() -> int:
    """A base port whose whole block of cluster ports is free."""
    for _ in range(200):
        base = random.randrange(20000, 40000, 100)
        if all(_free(base + offset) for offset in OFFSETS):
            return base
    raise RuntimeError("no free block of ports for a test cluster")


class Cluster:
    def __init__(self, *, apis: int = 2, apps: int = 0, settings: Mapping[str, str] | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="wb-cluster-"))
        os.chmod(self.folder, 0o755)  # PostgreSQL runs as its own user below it
        self.base = free_base()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "AWS_"))},
            "WB_CLUSTER_DIR": str(self.folder),
            "WB_CLUSTER_PORT": str(self.base),
            "WB_CLUSTER_APIS": str(apis),
            "WB_CLUSTER_APPS": str(apps),
            "PYTHON": str(ROOT / ".venv" / "bin" / "python")
            if (ROOT / ".venv").is_dir()
            else shutil.which("python3") or "",
            **(settings or {}),
        }
        self.script("start", timeout=300)
        self.settings = dict(line.split("=", 1) for line in self.script("env").stdout.splitlines() if "=" in line)

    def script(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", str(SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"deploy/cluster.sh {' '.join(args)} failed:\n{done.stderr}\n{done.stdout}")
        return done

    @property
    def api(self) -> str:
        """The API through HAProxy."""
        return f"http://127.0.0.1:{self.base}"

    @property
    def app(self) -> str:
        return f"http://127.0.0.1:{self.base + 10}"

    def replica(self, n: int) -> str:
        """API replica n (1 or 2), directly."""
        return f"http://127.0.0.1:{self.base + n}"

    def data_dir(self, name: str) -> Path:
        return self.folder / name

    def pid(self, name: str) -> int | None:
        path = self.folder / "run" / f"{name}.pid"
        return int(path.read_text()) if path.is_file() else None

    def kill(self, name: str) -> None:
        """kill -9, as a machine dying would."""
        pid = self.pid(name)
        if pid:
            os.kill(pid, signal.SIGKILL)
        self.script("kill", name)

    def start(self, name: str) -> None:
        self.script("start-one", name)

    def workbench(self, data_dir: Path) -> Workbench:
        """A process of this cluster (the test's own): same catalog, same object storage, its own local folder."""
        env = {**self.settings, "WORKBENCH_DATA_DIR": str(data_dir)}
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
            os.environ[key] = self.settings[key]  # obstore and LanceDB read the connection from the environment
        return Workbench(load_settings(env=env, secrets_file=data_dir / "none.toml"))

    def stop(self) -> None:
        try:
            self.script("stop", timeout=120)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def wait_until(condition: Callable[[], object], *, timeout_s: float, what: str, every_s: float = 0.2) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(every_s)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
