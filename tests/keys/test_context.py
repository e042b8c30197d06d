from hypothesis import given
from hypothesis import strategies as st

from gateway.keys.context import encode_context


def test_pair_order_does_not_matter() -> None:
    assert encode_context({"a": "1", "b": "2"}) == encode_context({"b": "2", "a": "1"})


def test_concatenation_collisions_are_impossible() -> None:
    assert encode_context({"ab": "c"}) != encode_context({"a": "bc"})
    assert encode_context({"a": "b", "c": "d"}) != encode_context({"a": "bc", "": "d"})


def test_empty_and_missing_context_are_the_same() -> None:
    assert encode_context(None) == encode_context({})


@given(st.dictionaries(st.text(), st.text()), st.dictionaries(st.text(), st.text()))
def test_encoding_is_injective(a: dict[str, str], b: dict[str, str]) -> None:
    assert (encode_context(a) == encode_context(b)) == (a == b)
