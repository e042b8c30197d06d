import pytest

from gateway.errors import DisabledException, KMSInvalidStateException
from gateway.keys.model import Key, KeyState
from gateway.kms.states import check_state


def key(state: KeyState) -> Key:
    return Key(
        "111122223333", "us-east-1", "1234abcd-12ab-34cd-56ef-1234567890ab", 0.0, state=state
    )


@pytest.mark.parametrize(
    "operation",
    ["Encrypt", "Decrypt", "GenerateDataKey", "ReEncrypt", "Encapsulate", "Decapsulate"],
)
def test_crypto_operations_follow_the_table(operation: str) -> None:
    check_state(key(KeyState.ENABLED), operation)
    check_state(key(KeyState.UPDATING), operation)
    with pytest.raises(
        DisabledException, match=r"key/1234abcd-12ab-34cd-56ef-1234567890ab is disabled\.$"
    ):
        check_state(key(KeyState.DISABLED), operation)
    with pytest.raises(KMSInvalidStateException, match=r"is pending deletion\.$"):
        check_state(key(KeyState.PENDING_DELETION), operation)
    with pytest.raises(KMSInvalidStateException, match=r"is pending import\.$"):
        check_state(key(KeyState.PENDING_IMPORT), operation)
    with pytest.raises(KMSInvalidStateException, match=r"is unavailable\.$"):
        check_state(key(KeyState.UNAVAILABLE), operation)


def test_cancel_deletion_needs_pending_deletion() -> None:
    check_state(key(KeyState.PENDING_DELETION), "CancelKeyDeletion")
    for state in (KeyState.ENABLED, KeyState.DISABLED, KeyState.PENDING_IMPORT):
        with pytest.raises(KMSInvalidStateException, match="is not pending deletion"):
            check_state(key(state), "CancelKeyDeletion")


@pytest.mark.parametrize(
    "operation", ["EnableKey", "DisableKey", "TagResource", "UpdateKeyDescription", "CreateAlias"]
)
def test_management_refused_while_pending_deletion(operation: str) -> None:
    check_state(key(KeyState.DISABLED), operation)
    with pytest.raises(KMSInvalidStateException):
        check_state(key(KeyState.PENDING_DELETION), operation)


@pytest.mark.parametrize("state", list(KeyState))
def test_describe_and_lists_allow_every_state(state: KeyState) -> None:
    for operation in ("DescribeKey", "ListAliases", "GetKeyPolicy", "DeleteAlias"):
        check_state(key(state), operation)
