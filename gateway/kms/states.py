"""The documented key-state table: which operations a key in each state allows.

Each rule names, per state that refuses the operation, the footnoted outcome of the guide's
key-state table (DisabledException / KMSInvalidStateException with AWS's message).
"""

from __future__ import annotations

from gateway.errors import AwsError, DisabledException, KMSInvalidStateException
from gateway.keys.model import Key, KeyState

S = KeyState


def _disabled(key: Key) -> AwsError:
    return DisabledException(f"{key.arn} is disabled.")


def _pending_deletion(key: Key) -> AwsError:
    what = (
        "pending replica deletion"
        if key.state is S.PENDING_REPLICA_DELETION
        else "pending deletion"
    )
    return KMSInvalidStateException(f"{key.arn} is {what}.")


def _not_pending_deletion(key: Key) -> AwsError:
    return KMSInvalidStateException(f"{key.arn} is not pending deletion.")


def _pending_import(key: Key) -> AwsError:
    return KMSInvalidStateException(f"{key.arn} is pending import.")


def _unavailable(key: Key) -> AwsError:
    return KMSInvalidStateException(f"{key.arn} is unavailable.")


def _creating(key: Key) -> AwsError:
    return KMSInvalidStateException(f"{key.arn} is creating.")


def _updating(key: Key) -> AwsError:
    return KMSInvalidStateException(f"{key.arn} is updating.")


_PD = (S.PENDING_DELETION, S.PENDING_REPLICA_DELETION)

# Cryptographic operations: footnotes [1] [2]/[3] [5] [11] [14].
_CRYPTO = {
    S.DISABLED: _disabled,
    **dict.fromkeys(_PD, _pending_deletion),
    S.PENDING_IMPORT: _pending_import,
    S.UNAVAILABLE: _unavailable,
    S.CREATING: _creating,
}
# Management that may not touch a key pending deletion: footnote [3].
_NOT_PENDING_DELETION = dict.fromkeys(_PD, _pending_deletion)
# EnableKey / DisableKey: [3] [5] [14] [15].
_ENABLE_DISABLE = {
    **dict.fromkeys(_PD, _pending_deletion),
    S.PENDING_IMPORT: _pending_import,
    S.CREATING: _creating,
    S.UPDATING: _updating,
}
_CANCEL_DELETION = {state: _not_pending_deletion for state in S if state not in _PD}

_RULES = {
    **dict.fromkeys(
        (
            "Encrypt",
            "Decrypt",
            "ReEncrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "GenerateMac",
            "VerifyMac",
            "Sign",
            "Verify",
            "GetPublicKey",
            "DeriveSharedSecret",
            "Encapsulate",
            "Decapsulate",
            "CreateGrant",
        ),
        _CRYPTO,
    ),
    **dict.fromkeys(
        ("CreateAlias", "TagResource", "UntagResource", "UpdateKeyDescription"),
        _NOT_PENDING_DELETION,
    ),
    "UpdateAlias": _NOT_PENDING_DELETION,  # [10]: applies to the new target key
    # [1] [3]; RotateKeyOnDemand is not in the guide's table: the same as the other two.
    **dict.fromkeys(("EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand"), _CRYPTO),
    "EnableKey": _ENABLE_DISABLE,
    "DisableKey": _ENABLE_DISABLE,
    "ScheduleKeyDeletion": {**_NOT_PENDING_DELETION, S.UPDATING: _updating},
    "CancelKeyDeletion": _CANCEL_DELETION,
}


def check_state(key: Key, operation: str) -> None:
    """Raise the documented error if ``key``'s state refuses ``operation``."""
    rule = _RULES.get(operation)
    if rule is None:
        return  # DescribeKey, List*, policies, DeleteAlias ...: every state allowed
    refuse = rule.get(key.state)
    if refuse is not None:
        error = refuse(key)
        # Metrics count refusals by the key's state (alerts on use of keys pending deletion).
        error.key_state = key.state.value
        raise error
