from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import GatewayProcess


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway shared by the tests that only need a running server."""
    data_dir: Path = tmp_path_factory.mktemp("gateway") / "data"
    server = GatewayProcess(data_dir).start()
    yield server
    server.stop()


@pytest.fixture
def kms(gateway: GatewayProcess):
    return gateway.client("kms")


@pytest.fixture
def key_id(kms) -> str:
    return kms.create_key(Description="test key")["KeyMetadata"]["KeyId"]


@pytest.fixture
def unchecked_kms(gateway: GatewayProcess):
    """A client that sends what it is given, so the server's own validation is tested."""
    return gateway.client("kms", parameter_validation=False)
