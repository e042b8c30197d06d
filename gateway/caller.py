"""Who is calling, established by SigV4: the account and region every request acts in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    account: str
    region: str
    principal_arn: str
    access_key_id: str
