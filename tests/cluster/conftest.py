"""One cluster (deploy/cluster.sh) for every test of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.workbench import Workbench
from tests.local_cluster import Cluster

RATE = 300  # requests a minute per key in this cluster: bursts of 30
LEASE_S = 6  # a killed replica's job is taken by the other after this


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    running = Cluster(
        apis=2,
        apps=2,
        settings={
            "WORKBENCH_JOB_LEASE_S": str(LEASE_S),
            "WORKBENCH_API_RATE_PER_MINUTE": str(RATE),
            "WORKBENCH_INGEST_BATCH_CHUNKS": "32",  # a job of many batches: a kill lands in the middle of one
        },
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def wb(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    """The test's own process in the cluster: it makes users and keys in the shared catalog."""
    workbench = cluster.workbench(tmp_path_factory.mktemp("test-process"))
    workbench.users.create_first_admin("admin", "admin's own password")  # the app asks for none then
    workbench.users.add(workbench.actor("admin"), "olivia", password="correct horse battery")
    return workbench
