import pytest

from gateway.errors import InvalidMarkerException
from gateway.kms.paging import decode_marker, encode_marker, page


def test_marker_round_trip() -> None:
    assert decode_marker(encode_marker("alias/x")) == "alias/x"
    assert decode_marker(None) is None


@pytest.mark.parametrize("marker", ["garbage", "", "Z3cxOg==", "!!!"])
def test_foreign_markers_are_refused(marker: str) -> None:
    with pytest.raises(InvalidMarkerException):
        decode_marker(marker)


def test_page_truncates_on_the_extra_item() -> None:
    items, extra = page(["a", "b", "c"], 2, lambda s: s)
    assert items == ["a", "b"] and extra["Truncated"] is True
    assert decode_marker(extra["NextMarker"]) == "b"
    items, extra = page(["a", "b"], 2, lambda s: s)
    assert items == ["a", "b"] and extra == {"Truncated": False}
