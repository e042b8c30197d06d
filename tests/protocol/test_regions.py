"""Region names a request may be scoped to: the ``aws`` partition's, as botocore lists them."""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import pytest

from gateway.protocol.regions import is_known_region

_ENDPOINTS = json.loads(
    (Path(botocore.__file__).parent / "data" / "endpoints.json").read_text(encoding="utf-8")
)


def _regions(partition: str) -> list[str]:
    found = next(p for p in _ENDPOINTS["partitions"] if p["partition"] == partition)
    return sorted(found["regions"])


@pytest.mark.parametrize("region", _regions("aws"))
def test_every_listed_commercial_region_is_accepted(region: str) -> None:
    assert is_known_region(region)


def test_regions_of_other_partitions_are_refused() -> None:
    others = [r for p in _ENDPOINTS["partitions"] if p["partition"] != "aws" for r in p["regions"]]
    assert others and not any(is_known_region(r) for r in others)


@pytest.mark.parametrize(
    "name", ["", "local", "us-east-1 ", " us-east-1", "US-EAST-1", "us-éast-1", "us-east", "x"]
)
def test_made_up_names_are_refused(name: str) -> None:
    assert not is_known_region(name)


@pytest.mark.parametrize("name", ["eu-central-9", "us-r1234-1", "ap-" + "x" * 4000 + "-1"])
def test_names_that_only_follow_the_pattern_are_refused(name: str) -> None:
    # Each accepted region is a key namespace, quota buckets and metric series: names a
    # client makes up must not mint them without bound.
    assert not is_known_region(name)
