"""Which region names a request may be scoped to: those of the ``aws`` partition.

The pattern is botocore's own (``endpoints.json``), so regions AWS opens later are accepted
without a release. Other partitions (China, GovCloud, ISO) are refused: their ARNs start
``arn:aws-cn:``/``arn:aws-us-gov:``, which this gateway does not issue. Refusing names
outside the pattern also keeps a signed-in client from minting unbounded per-region state
(key namespaces, quota buckets, metric series) with made-up region names.
"""

from __future__ import annotations

import re

from botocore.loaders import create_loader

PARTITION = "aws"


def _load_pattern() -> re.Pattern[str]:
    endpoints = create_loader().load_data("endpoints")
    partition = next(p for p in endpoints["partitions"] if p["partition"] == PARTITION)
    return re.compile(partition["regionRegex"], re.ASCII)


# Read once at import (start-up), not on the first request.
_PATTERN = _load_pattern()


def is_known_region(name: str) -> bool:
    """True for region names of the ``aws`` partition, such as ``eu-west-3``."""
    return _PATTERN.fullmatch(name) is not None
