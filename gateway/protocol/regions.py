"""Which region names a request may be scoped to: the regions botocore lists for the ``aws``
partition.

Other partitions (China, GovCloud, ISO) are refused: their ARNs start ``arn:aws-cn:`` /
``arn:aws-us-gov:``, which this gateway does not issue. Only listed regions are accepted,
not every name botocore's region pattern allows (``us-anything-1``): each region a client
can name is a key namespace, a set of quota buckets and a set of metric series, and made-up
names would let a signed-in client mint them without bound. A region AWS opens later is
accepted once the installed botocore lists it.
"""

from __future__ import annotations

from botocore.loaders import create_loader

PARTITION = "aws"


def _load_regions() -> frozenset[str]:
    partitions = create_loader().load_data("partitions")
    partition = next(p for p in partitions["partitions"] if p["id"] == PARTITION)
    # "aws-global" names the global endpoint of some services, not a region.
    return frozenset(name for name in partition["regions"] if name != "aws-global")


# Read once at import (start-up), not on the first request.
REGIONS = _load_regions()


def is_known_region(name: str) -> bool:
    """True for the listed regions of the ``aws`` partition, such as ``eu-west-3``."""
    return name in REGIONS
