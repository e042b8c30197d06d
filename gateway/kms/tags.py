"""Key tags: TagResource, UntagResource, ListResourceTags (and the Tags of CreateKey)."""

from __future__ import annotations

from typing import Any

from gateway.caller import Caller
from gateway.errors import LimitExceededException, TagException
from gateway.keys.model import Key
from gateway.kms.paging import decode_marker, limit_of, page
from gateway.kms.service import Kms
from gateway.kms.states import check_state


def tags_from_wire(
    wire: list[dict[str, str]], current: dict[str, str], max_tags: int
) -> dict[str, str]:
    """Merge wire tags over ``current``; a later value for the same key wins, as in AWS."""
    merged = dict(current)
    for tag in wire:
        key = tag["TagKey"]
        if key.lower().startswith("aws:"):
            raise TagException("Tag keys beginning with 'aws:' are reserved for AWS use.")
        merged[key] = tag["TagValue"]
    if len(merged) > max_tags:
        raise LimitExceededException(
            f"A KMS key can have at most {max_tags} tags; this request would give it {len(merged)}."
        )
    return merged


async def tag_resource(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_TagResource.html"""
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)

    def change(current: Key) -> Key:
        check_state(current, "TagResource")
        tags = tags_from_wire(req["Tags"], current.tags, kms.limit(caller, "kms:TagsPerKey"))
        return current.copy(tags=tags)

    await kms.keys.modify(key, change)
    return {}


async def untag_resource(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_UntagResource.html"""
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    removed = set(req["TagKeys"])

    def change(current: Key) -> Key:
        check_state(current, "UntagResource")
        # Removing a tag key that is not there is not an error (the guide says so).
        return current.copy(tags={k: v for k, v in current.tags.items() if k not in removed})

    await kms.keys.modify(key, change)
    return {}


async def list_resource_tags(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListResourceTags.html"""
    limit = limit_of("ListResourceTags", req)
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    after = decode_marker(req.get("Marker"))
    names = sorted(k for k in key.tags if after is None or k > after)
    names, paging = page(names, limit, lambda n: n)
    return {"Tags": [{"TagKey": n, "TagValue": key.tags[n]} for n in names], **paging}
