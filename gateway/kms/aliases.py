"""Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
"""

from __future__ import annotations

from typing import Any

from gateway.caller import Caller
from gateway.errors import (
    AlreadyExistsException,
    InvalidAliasNameException,
    LimitExceededException,
    NotFoundException,
    ValidationException,
)
from gateway.keys.model import Alias, alias_arn
from gateway.kms.keyspecs import Family, spec_of
from gateway.kms.paging import decode_marker, limit_of, page
from gateway.kms.service import Kms
from gateway.kms.states import check_state
from gateway.store.base import DuplicateError, LimitReachedError, MissingError

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-")


def _check_name(name: str) -> None:
    if not name.startswith("alias/") or len(name) == len("alias/"):
        raise InvalidAliasNameException('Alias must start with the prefix "alias/".')
    if name.startswith("alias/aws/"):
        raise InvalidAliasNameException(
            "Alias names that begin with alias/aws/ are reserved for AWS managed keys."
        )
    if not set(name) <= _NAME_CHARS:
        raise InvalidAliasNameException(
            f"Alias {name} contains invalid characters: "
            "use only alphanumerics, forward slashes (/), underscores (_) and dashes (-)."
        )


def _key_type(key_spec: str) -> str:
    """The key type UpdateAlias compares: symmetric, HMAC or asymmetric (any curve or size)."""
    family = spec_of(key_spec).family
    if family in (Family.SYMMETRIC, Family.HMAC):
        return family.value.lower()
    return "asymmetric"


def _not_found(caller: Caller, name: str) -> NotFoundException:
    return NotFoundException(
        f"Alias '{alias_arn(caller.region, caller.account, name)}' is not found."
    )


async def create_alias(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html"""
    name = req["AliasName"]
    _check_name(name)
    key = await kms.keys.resolve(caller, req["TargetKeyId"], aliases=False)
    check_state(key, "CreateAlias")
    max_aliases = kms.limit(caller, "kms:AliasesPerKey")
    now = kms.clock()
    alias = Alias(caller.account, caller.region, name, key.key_id, now, now)
    kms.keys.forget_alias(caller.account, caller.region, name)
    try:
        # The quota is checked in the store's transaction: concurrent CreateAlias calls, in
        # any worker, cannot pass it together.
        await kms.store.create_alias(alias, max_per_key=max_aliases)
    except LimitReachedError:
        raise _too_many_aliases(max_aliases) from None
    except DuplicateError:
        raise AlreadyExistsException(f"An alias with the name {alias.arn} already exists") from None
    return {}


def _too_many_aliases(max_aliases: int) -> LimitExceededException:
    return LimitExceededException(f"A KMS key can have at most {max_aliases} aliases.")


async def update_alias(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_UpdateAlias.html"""
    name = req["AliasName"]
    if not name.startswith("alias/") or name.startswith("alias/aws/"):
        _check_name(name)
    alias = await kms.store.get_alias(caller.account, caller.region, name)
    if alias is None:
        raise _not_found(caller, name)
    target = await kms.keys.resolve(caller, req["TargetKeyId"], aliases=False)
    check_state(target, "UpdateAlias")
    current = await kms.keys.get(caller.account, caller.region, alias.target_key_id)
    if current is not None and (
        _key_type(current.key_spec) != _key_type(target.key_spec)
        or current.key_usage != target.key_usage
    ):
        raise ValidationException(
            f"Alias {alias.arn} cannot be changed from a {_key_type(current.key_spec)} key "
            f"with usage {current.key_usage} to a {_key_type(target.key_spec)} key with usage "
            f"{target.key_usage}: the new key must have the same type and usage."
        )
    updated = Alias(alias.account, alias.region, name, target.key_id, alias.created, kms.clock())
    max_aliases = kms.limit(caller, "kms:AliasesPerKey")
    try:
        await kms.store.update_alias(updated, max_per_key=max_aliases)
    except LimitReachedError:
        raise _too_many_aliases(max_aliases) from None
    except MissingError:
        raise _not_found(caller, name) from None
    finally:
        kms.keys.forget_alias(caller.account, caller.region, name)
    return {}


async def delete_alias(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_DeleteAlias.html"""
    name = req["AliasName"]
    try:
        await kms.store.delete_alias(caller.account, caller.region, name)
    except MissingError:
        raise _not_found(caller, name) from None
    finally:
        kms.keys.forget_alias(caller.account, caller.region, name)
    return {}


async def list_aliases(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListAliases.html"""
    limit = limit_of("ListAliases", req)
    key_id = None
    if "KeyId" in req:
        key_id = (await kms.keys.resolve(caller, req["KeyId"], aliases=False)).key_id
    after = decode_marker(req.get("Marker"))
    found = await kms.store.list_aliases(caller.account, caller.region, key_id, after, limit + 1)
    aliases, paging = page(found, limit, lambda a: a.name)
    return {
        "Aliases": [
            {
                "AliasName": a.name,
                "AliasArn": a.arn,
                "TargetKeyId": a.target_key_id,
                "CreationDate": a.created,
                "LastUpdatedDate": a.updated,
            }
            for a in aliases
        ],
        **paging,
    }
