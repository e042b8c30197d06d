"""The KMS key and alias records the services work on and the store persists."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum


class KeyState(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    PENDING_IMPORT = "PendingImport"
    PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
    UNAVAILABLE = "Unavailable"
    CREATING = "Creating"
    UPDATING = "Updating"


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias_name: str) -> str:
    # alias_name carries its "alias/" prefix, as it does on the wire.
    return f"arn:aws:kms:{region}:{account}:{alias_name}"


@dataclass(slots=True)
class Key:
    """One KMS key's metadata. Material lives apart, wrapped under the root key."""

    account: str
    region: str
    key_id: str
    created: float  # epoch seconds
    key_spec: str = "SYMMETRIC_DEFAULT"
    key_usage: str = "ENCRYPT_DECRYPT"
    origin: str = "AWS_KMS"
    state: KeyState = KeyState.ENABLED
    description: str = ""
    policy: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    deletion_date: float | None = None  # epoch seconds, set while PendingDeletion
    pending_window_days: int | None = None
    current_version: int = 1  # material version new ciphertexts use
    multi_region: bool = False
    # Automatic rotation: the period while it is enabled (None: disabled), and when the
    # next rotation is due (epoch seconds).
    rotation_period_days: int | None = None
    next_rotation: float | None = None

    @property
    def arn(self) -> str:
        return key_arn(self.region, self.account, self.key_id)

    def copy(self, **changes: object) -> Key:
        """A changed copy: services never mutate a cached record in place."""
        clone = dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        if "tags" not in changes:
            clone.tags = dict(self.tags)
        return clone


@dataclass(slots=True, frozen=True)
class WrappedMaterial:
    """One version of a key's material, encrypted under the root key."""

    key_id: str
    version: int
    wrapped: bytes
    created: float
    # How this version came to be: None for a key's first material, else AUTOMATIC or
    # ON_DEMAND (a rotation).
    rotation_type: str | None = None


@dataclass(slots=True, frozen=True)
class Alias:
    account: str
    region: str
    name: str  # with its "alias/" prefix
    target_key_id: str
    created: float
    updated: float

    @property
    def arn(self) -> str:
        return alias_arn(self.region, self.account, self.name)


@dataclass(slots=True, frozen=True)
class AccessKey:
    """An IAM access key; the secret is wrapped under the root key (SigV4 needs it back)."""

    access_key_id: str
    account: str
    user_name: str
    wrapped_secret: bytes
    status: str  # "Active" | "Inactive"
    created: float

    @property
    def principal_arn(self) -> str:
        if self.user_name == "root":
            return f"arn:aws:iam::{self.account}:root"
        return f"arn:aws:iam::{self.account}:user/{self.user_name}"
