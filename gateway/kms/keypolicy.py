"""Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies (stored and returned as given).

Policies are validated as documents here; their evaluation is a later concern.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.caller import Caller
from gateway.errors import (
    LimitExceededException,
    MalformedPolicyDocumentException,
    NotFoundException,
    ValidationException,
)
from gateway.kms.paging import limit_of
from gateway.kms.service import Kms

POLICY_NAME = "default"  # the only key policy a caller can set
RAM_POLICY_NAME = "AWS_RAM"  # AWS RAM's own, for keys shared through it (none are here)
POLICY_VERSIONS = ("2012-10-17", "2008-10-17")
STATEMENT_ELEMENTS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
     "NotResource", "Condition"}
)  # fmt: skip
# "*", an account id, or an IAM or STS ARN of an account.
_AWS_PRINCIPAL = re.compile(r"\*|\d{12}|arn:aws:(?:iam|sts)::\d{12}:\S+")


def default_policy(account: str) -> str:
    """The default key policy of a key created through the API (kms-digest §5.4)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def validate_policy(policy: str, max_bytes: int) -> None:
    if len(policy.encode()) > max_bytes:
        raise LimitExceededException(
            f"The key policy exceeds the maximum size of {max_bytes} bytes."
        )
    try:
        doc = json.loads(policy)
    except ValueError:
        raise MalformedPolicyDocumentException("The key policy is not valid JSON.") from None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise MalformedPolicyDocumentException("The key policy must contain a Statement.")
    # The grammar of the IAM policy language, which key policies use; policies are stored,
    # not evaluated, so whether a principal exists is not checked.
    if doc.get("Version", POLICY_VERSIONS[0]) not in POLICY_VERSIONS:
        raise MalformedPolicyDocumentException(
            f"The policy Version must be one of {', '.join(POLICY_VERSIONS)}."
        )
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise MalformedPolicyDocumentException(
                "Each policy statement must be an object with Effect Allow or Deny."
            )
        if not STATEMENT_ELEMENTS.issuperset(statement):
            raise MalformedPolicyDocumentException(
                "Policy contains a statement with one or more invalid elements."
            )
        # The API reference: "Each statement in the key policy must contain one or more
        # principals."
        principal = statement.get("Principal") or statement.get("NotPrincipal")
        if not principal:
            raise MalformedPolicyDocumentException(
                "Each policy statement must contain one or more principals."
            )
        if not _principals_well_formed(principal):
            raise MalformedPolicyDocumentException(
                "Policy contains a statement with one or more invalid principals."
            )


def _principals_well_formed(principal: Any) -> bool:
    """``"*"``, or an object of principal types whose AWS values are ``"*"``, account ids or
    IAM/STS ARNs; the other types' values (services, federated, canonical users) are text."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for kind, values in principal.items():
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not values:
            return False
        for value in values:
            if not isinstance(value, str) or not value:
                return False
            if kind == "AWS" and not _AWS_PRINCIPAL.fullmatch(value):
                return False
    return True


def _check_name(req: dict[str, Any]) -> None:
    name = req.get("PolicyName", POLICY_NAME)
    if name != POLICY_NAME:
        raise NotFoundException(f"No such policy exists: {name}")


async def get_key_policy(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html"""
    _check_name(req)
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    return {"Policy": key.policy, "PolicyName": POLICY_NAME}


async def put_key_policy(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html"""
    if req.get("PolicyName") == RAM_POLICY_NAME:
        # The API reference: AWS_RAM is a valid name, but only the default policy can be set.
        raise ValidationException("The AWS_RAM policy can only be managed by the RAM service.")
    _check_name(req)
    validate_policy(req["Policy"], kms.limit(caller, "kms:KeyPolicySize"))
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    await kms.keys.modify(key, lambda current: current.copy(policy=req["Policy"]))
    return {}


async def list_key_policies(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeyPolicies.html"""
    limit_of("ListKeyPolicies", req)  # one policy fits any valid Limit
    await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    return {"PolicyNames": [POLICY_NAME], "Truncated": False}
