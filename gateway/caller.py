"""Who is calling, established by SigV4: the account and region every request acts in."""

from __future__ import annotations

from typing import NamedTuple


class Caller(NamedTuple):
    """Immutable; a NamedTuple because one is built per request (half a frozen dataclass's cost)."""

    account: str
    region: str
    principal_arn: str
    access_key_id: str
