"""AES-256-GCM: official vectors, differential tests against `cryptography`, batch semantics."""

from __future__ import annotations

import array
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.crypto import _binding, aesgcm
from gateway.crypto.aesgcm import AuthenticationError, OpenItem, Sealed
from tests.crypto.vectors import cavp_sections, wycheproof

KEY = bytes(range(32))


def _supported(params: dict[str, int]) -> bool:
    # KMS only ever uses 256-bit keys, 96-bit IVs and 128-bit tags.
    return params["Keylen"] == 256 and params["IVlen"] == 96 and params["Taglen"] == 128


_ENCRYPT = [s for s in cavp_sections("gcmEncryptExtIV256.rsp") if _supported(s.params)]
_DECRYPT = [s for s in cavp_sections("gcmDecrypt256.rsp") if _supported(s.params)]


def test_cavp_files_have_supported_sections() -> None:
    # Sections with other IV/tag sizes are filtered out at collection; make sure some remain.
    assert len(_ENCRYPT) == 25
    assert len(_DECRYPT) == 25


@pytest.mark.parametrize("section", _ENCRYPT, ids=lambda s: s.name)
def test_cavp_encrypt_vectors_match(section) -> None:
    for v in section.vectors:
        ivs, cts, tags = _binding.aes_gcm_seal_with_ivs(v["Key"], [v["IV"]], [v["PT"]], [v["AAD"]])
        assert (cts[0], tags[0]) == (v["CT"], v["Tag"])
        assert aesgcm.open(v["Key"], v["IV"], v["CT"], v["Tag"], v["AAD"]) == v["PT"]


@pytest.mark.parametrize("section", _DECRYPT, ids=lambda s: s.name)
def test_cavp_decrypt_vectors_open_or_fail(section) -> None:
    fails = 0
    for v in section.vectors:
        if v["fail"]:
            fails += 1
            with pytest.raises(AuthenticationError):
                aesgcm.open(v["Key"], v["IV"], v["CT"], v["Tag"], v["AAD"])
        else:
            assert aesgcm.open(v["Key"], v["IV"], v["CT"], v["Tag"], v["AAD"]) == v["PT"]
    assert 0 < fails < len(section.vectors)


_WYCHEPROOF_AES = wycheproof("aes_gcm_test.json")["testGroups"]


def _aes_group_id(group: dict) -> str:
    return f"key{group['keySize']}-iv{group['ivSize']}-tag{group['tagSize']}"


@pytest.mark.parametrize("group", _WYCHEPROOF_AES, ids=_aes_group_id)
def test_wycheproof_aes_gcm(group: dict) -> None:
    if (group["keySize"], group["ivSize"], group["tagSize"]) != (256, 96, 128):
        pytest.skip(f"{_aes_group_id(group)}: KMS uses only 256-bit keys, 96-bit IVs, 128-bit tags")
    tests = group["tests"]
    h = bytes.fromhex
    # "acceptable" cases: Wycheproof allows either answer, so they are not asserted; the
    # pinned file version has none in the 256/96/128 groups.
    decided = [t for t in tests if t["result"] in ("valid", "invalid")]
    items = [OpenItem(h(t["iv"]), h(t["ct"]), h(t["tag"]), h(t["aad"])) for t in decided]
    assert decided
    for t, item in zip(decided, items, strict=True):
        result = aesgcm.open_batch(h(t["key"]), [item])[0]
        if t["result"] == "valid":
            assert result == h(t["msg"]), t["tcId"]
            _, cts, tags = _binding.aes_gcm_seal_with_ivs(
                h(t["key"]), [h(t["iv"])], [h(t["msg"])], [h(t["aad"])]
            )
            assert (cts[0], tags[0]) == (h(t["ct"]), h(t["tag"])), t["tcId"]
        else:
            assert isinstance(result, AuthenticationError), t["tcId"]


# --- differential against `cryptography` -------------------------------------

_data = st.binary(max_size=5000)


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), pt=_data, aad=st.binary(max_size=300))
def test_our_seal_opens_with_cryptography(key: bytes, pt: bytes, aad: bytes) -> None:
    s = aesgcm.seal(key, pt, aad)
    assert len(s.iv) == 12 and len(s.tag) == 16 and len(s.ciphertext) == len(pt)
    assert AESGCM(key).decrypt(s.iv, s.ciphertext + s.tag, aad) == pt


@settings(max_examples=200, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=12, max_size=12),
    pt=_data,
    aad=st.binary(max_size=300),
)
def test_cryptography_seal_opens_with_ours(key: bytes, iv: bytes, pt: bytes, aad: bytes) -> None:
    sealed = AESGCM(key).encrypt(iv, pt, aad)
    assert aesgcm.open(key, iv, sealed[:-16], sealed[-16:], aad) == pt


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.tuples(_data, st.binary(max_size=64)), max_size=40))
def test_seal_batch_items_each_open_like_single_items(items: list[tuple[bytes, bytes]]) -> None:
    sealed = aesgcm.seal_batch(KEY, [p for p, _ in items], [a for _, a in items])
    assert len(sealed) == len(items)
    for s, (pt, aad) in zip(sealed, items, strict=True):
        assert aesgcm.open(KEY, s.iv, s.ciphertext, s.tag, aad) == pt
        assert AESGCM(KEY).decrypt(s.iv, s.ciphertext + s.tag, aad) == pt


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.tuples(_data, st.binary(max_size=64), st.booleans()), max_size=40))
def test_open_batch_equals_map_of_open(items: list[tuple[bytes, bytes, bool]]) -> None:
    batch = []
    for pt, aad, corrupt in items:
        s = aesgcm.seal(KEY, pt, aad)
        tag = bytes([s.tag[0] ^ 1]) + s.tag[1:] if corrupt else s.tag
        batch.append(OpenItem(s.iv, s.ciphertext, tag, aad))
    results = aesgcm.open_batch(KEY, batch)

    def one(item: OpenItem) -> bytes | type[AuthenticationError]:
        try:
            return aesgcm.open(KEY, item.iv, item.ciphertext, item.tag, item.aad)
        except AuthenticationError:
            return AuthenticationError

    expected = [one(i) for i in batch]
    got = [AuthenticationError if isinstance(r, AuthenticationError) else r for r in results]
    assert got == expected
    for (pt, _, corrupt), r in zip(items, results, strict=True):
        assert isinstance(r, AuthenticationError) if corrupt else r == pt


# --- batch semantics and edge cases ------------------------------------------


def test_mixed_good_and_bad_items_fail_alone() -> None:
    pts = [b"a" * 5, b"", b"c" * 5000, b"d" * 32]
    sealed = aesgcm.seal_batch(KEY, pts, [b"x", b"", b"z", b"w"])
    items = [
        OpenItem(sealed[0].iv, sealed[0].ciphertext, sealed[0].tag, b"x"),
        OpenItem(sealed[1].iv, sealed[1].ciphertext, sealed[1].tag, b"wrong aad"),
        # The first byte flipped (replacing it by a constant left it unchanged 1 time in 256).
        OpenItem(
            sealed[2].iv,
            bytes([sealed[2].ciphertext[0] ^ 1]) + sealed[2].ciphertext[1:],
            sealed[2].tag,
            b"z",
        ),
        OpenItem(sealed[3].iv, sealed[3].ciphertext, sealed[3].tag, b"w"),
    ]
    results = aesgcm.open_batch(KEY, items)
    assert results[0] == pts[0]
    assert isinstance(results[1], AuthenticationError)
    assert isinstance(results[2], AuthenticationError)
    assert results[3] == pts[3]


def test_open_raises_authentication_error_on_flipped_tag_bit() -> None:
    s = aesgcm.seal(KEY, b"secret", b"ctx")
    with pytest.raises(AuthenticationError):
        aesgcm.open(KEY, s.iv, s.ciphertext, s.tag[:-1] + bytes([s.tag[-1] ^ 0x80]), b"ctx")


def test_open_with_wrong_key_fails() -> None:
    s = aesgcm.seal(KEY, b"secret")
    with pytest.raises(AuthenticationError):
        aesgcm.open(bytes(32), s.iv, s.ciphertext, s.tag)


def test_empty_batches() -> None:
    assert aesgcm.seal_batch(KEY, [], []) == []
    assert aesgcm.open_batch(KEY, []) == []


def test_large_plaintext_round_trips() -> None:
    pt = os.urandom(1 << 20)
    s = aesgcm.seal(KEY, pt, b"aad")
    assert aesgcm.open(KEY, s.iv, s.ciphertext, s.tag, b"aad") == pt
    assert AESGCM(KEY).decrypt(s.iv, s.ciphertext + s.tag, b"aad") == pt


def test_seal_draws_distinct_ivs_within_a_batch() -> None:
    sealed = aesgcm.seal_batch(KEY, [b"x"] * 1000, [b""] * 1000)
    assert len({s.iv for s in sealed}) == 1000


def test_results_are_plain_bytes() -> None:
    s = aesgcm.seal(bytearray(KEY), memoryview(b"pt"), bytearray(b"aad"))
    assert isinstance(s, Sealed)
    assert all(type(x) is bytes for x in (s.iv, s.ciphertext, s.tag))
    assert type(aesgcm.open(KEY, s.iv, s.ciphertext, s.tag, b"aad")) is bytes


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_bad_key_length_is_rejected_without_echoing_the_key(size: int) -> None:
    key = b"K" * size
    with pytest.raises(ValueError, match="32 bytes") as info:
        aesgcm.seal(key, b"x")
    if size:
        assert "KKKK" not in str(info.value)
    with pytest.raises(ValueError, match="32 bytes"):
        aesgcm.open(key, bytes(12), b"", bytes(16))


def test_bad_iv_and_tag_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="IV must be 12 bytes"):
        aesgcm.open(KEY, bytes(11), b"", bytes(16))
    with pytest.raises(ValueError, match="tag must be 16 bytes"):
        aesgcm.open(KEY, bytes(12), b"", bytes(15))
    with pytest.raises(ValueError, match="IV must be 12 bytes"):
        aesgcm.open_batch(KEY, [OpenItem(bytes(12), b"", bytes(16)), OpenItem(b"", b"", bytes(16))])


def test_wrong_types_are_rejected() -> None:
    with pytest.raises(TypeError, match="plaintext"):
        aesgcm.seal(KEY, "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key"):
        aesgcm.seal(None, b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AAD"):
        aesgcm.seal(KEY, b"x", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        aesgcm.seal_batch(KEY, b"not a list", [b""])
    with pytest.raises(TypeError, match="OpenItem"):
        aesgcm.open_batch(KEY, [(bytes(12), b"", bytes(16))])  # type: ignore[list-item]


def test_seal_batch_needs_one_aad_per_plaintext() -> None:
    with pytest.raises(ValueError, match="AAD"):
        aesgcm.seal_batch(KEY, [b"a", b"b"], [b""])


def test_authentication_error_is_a_crypto_error_and_says_nothing_specific() -> None:
    from gateway.crypto import CryptoError

    assert issubclass(AuthenticationError, CryptoError)
    assert str(AuthenticationError()) == "authentication tag mismatch"


# --- seal_packed: prefix || iv || ciphertext || tag in one buffer -------------


def _open_packed(key: bytes, out: bytes, prefix: bytes, aad: bytes) -> bytes:
    """Check the layout and open one packed item with `cryptography`."""
    assert type(out) is bytes and out[: len(prefix)] == prefix
    body = out[len(prefix) :]
    return AESGCM(key).decrypt(body[:IV], body[IV:], aad)


IV = aesgcm.IV_SIZE


@pytest.mark.parametrize("section", _ENCRYPT, ids=lambda s: s.name)
def test_cavp_encrypt_vectors_match_packed_layout(section) -> None:
    for i, v in enumerate(section.vectors):
        prefix = bytes([i]) * (i % 23)
        out = _binding.aes_gcm_seal_packed(v["Key"], [prefix], [v["PT"]], [v["AAD"]], [v["IV"]])
        assert out == [prefix + v["IV"] + v["CT"] + v["Tag"]]


def test_wycheproof_valid_vectors_match_packed_layout_in_one_batch_per_key() -> None:
    h = bytes.fromhex
    by_key: dict[bytes, list[dict]] = {}
    for group in _WYCHEPROOF_AES:
        if (group["keySize"], group["ivSize"], group["tagSize"]) == (256, 96, 128):
            for t in group["tests"]:
                if t["result"] == "valid":
                    by_key.setdefault(h(t["key"]), []).append(t)
    assert by_key
    for key, tests in by_key.items():
        prefixes = [t["tcId"].to_bytes(4, "big") for t in tests]
        out = _binding.aes_gcm_seal_packed(
            key,
            prefixes,
            [h(t["msg"]) for t in tests],
            [h(t["aad"]) for t in tests],
            [h(t["iv"]) for t in tests],
        )
        expected = [
            p + h(t["iv"]) + h(t["ct"]) + h(t["tag"]) for p, t in zip(prefixes, tests, strict=True)
        ]
        assert out == expected


_items = st.lists(
    st.tuples(st.binary(max_size=40), _data, st.binary(max_size=64)), min_size=1, max_size=30
)


@settings(max_examples=150, deadline=None)
@given(items=_items, shared=st.booleans())
def test_seal_packed_outputs_open_with_cryptography(
    items: list[tuple[bytes, bytes, bytes]], shared: bool
) -> None:
    if shared:  # the one-prefix path (a batch under one key version)
        items = [(items[0][0], p, a) for _, p, a in items]
    out = aesgcm.seal_packed(KEY, *zip(*items, strict=True))
    assert len(out) == len(items)
    for o, (prefix, pt, aad) in zip(out, items, strict=True):
        assert len(o) == len(prefix) + IV + len(pt) + aesgcm.TAG_SIZE
        assert _open_packed(KEY, o, prefix, aad) == pt


@settings(max_examples=100, deadline=None)
@given(items=_items, shared=st.booleans())
def test_seal_packed_batch_equals_map_of_single_items(
    items: list[tuple[bytes, bytes, bytes]], shared: bool
) -> None:
    if shared:
        items = [(items[0][0], p, a) for _, p, a in items]
    ivs = [i.to_bytes(12, "big") for i in range(len(items))]
    prefixes, pts, aads = zip(*items, strict=True)
    batch = _binding.aes_gcm_seal_packed(KEY, prefixes, pts, aads, ivs)
    one = [
        _binding.aes_gcm_seal_packed(KEY, [p], [pt], [a], [iv])[0]
        for p, pt, a, iv in zip(prefixes, pts, aads, ivs, strict=True)
    ]
    assert batch == one
    # ... and each equals what seal_batch's given-IV path produces, joined.
    _, cts, tags = _binding.aes_gcm_seal_with_ivs(KEY, ivs, pts, aads)
    assert batch == [b"".join(parts) for parts in zip(prefixes, ivs, cts, tags, strict=True)]


@st.composite
def _uniform_batches(draw: st.DrawFn) -> list[tuple[bytes, bytes, bytes]]:
    """Batches whose plaintexts (and, independently, AADs) may all share one length."""
    n = draw(st.integers(min_value=1, max_value=40))

    def column(max_len: int) -> list[bytes]:
        if draw(st.booleans()):  # one length for every item, different contents
            size = draw(st.integers(min_value=0, max_value=max_len))
            return draw(st.lists(st.binary(min_size=size, max_size=size), min_size=n, max_size=n))
        return draw(st.lists(st.binary(max_size=max_len), min_size=n, max_size=n))

    prefixes = [column(30)[0]] * n if draw(st.booleans()) else column(30)
    return list(zip(prefixes, column(100), column(64), strict=True))


@settings(max_examples=150, deadline=None)
@given(items=_uniform_batches())
def test_seal_packed_with_equal_lengths_equals_map_of_single_items(
    items: list[tuple[bytes, bytes, bytes]],
) -> None:
    prefixes, pts, aads = zip(*items, strict=True)
    ivs = [os.urandom(12) for _ in items]
    batch = _binding.aes_gcm_seal_packed(KEY, prefixes, pts, aads, ivs)
    _, cts, tags = _binding.aes_gcm_seal_with_ivs(KEY, ivs, pts, aads)
    assert batch == [b"".join(parts) for parts in zip(prefixes, ivs, cts, tags, strict=True)]
    fresh = aesgcm.seal_packed(KEY, prefixes, pts, aads)  # RNG IVs
    for o, (prefix, pt, aad) in zip(fresh, items, strict=True):
        assert _open_packed(KEY, o, prefix, aad) == pt


@pytest.mark.parametrize("n", [2, 3, 255, 1023, 1024, 1025, 2500])
def test_seal_packed_cuts_every_batch_size_into_its_items(n: int) -> None:
    # Equal-sized outputs are cut in power-of-two runs of at most 1024 items.
    header = os.urandom(22)
    pts = [os.urandom(32) for _ in range(n)]
    aads = [header + i.to_bytes(4, "big") for i in range(n)]
    out = aesgcm.seal_packed(KEY, [header] * n, pts, aads)
    assert len(out) == n
    assert len({o[22:34] for o in out}) == n  # a fresh IV per item
    for o, pt, aad in zip(out, pts, aads, strict=True):
        assert len(o) == 22 + 12 + 32 + 16
        assert _open_packed(KEY, o, header, aad) == pt


def test_seal_packed_detects_non_bytes_items_of_one_length() -> None:
    # len() 3 but 12 bytes each: equal lengths must not hide that from the size check.
    wide: list = [memoryview(array.array("I", [i, i + 1, i + 2])) for i in range(3)]
    with pytest.raises(_binding.NotBytesError, match="plaintext"):
        _binding.aes_gcm_seal_packed(KEY, [b"h"] * 3, wide, [b"a"] * 3)
    with pytest.raises(_binding.NotBytesError, match="AAD"):
        _binding.aes_gcm_seal_packed(KEY, [b"h"] * 3, [b"p"] * 3, wide)
    out = aesgcm.seal_packed(KEY, [b"h"] * 3, wide, wide)  # copied to bytes, then sealed
    for o, w in zip(out, wide, strict=True):
        assert _open_packed(KEY, o, b"h", bytes(w)) == bytes(w)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-prefix", "per-item-prefix"])
def test_seal_packed_mixed_sizes(shared: bool) -> None:
    sizes = [0, 1, 15, 16, 17, 32, 255, 4096, 4097, 65536, 0, 3]
    pts = [os.urandom(s) for s in sizes]
    aads = [os.urandom(s % 50) for s in sizes]
    header = os.urandom(22)
    prefixes = [header] * len(sizes) if shared else [os.urandom(s % 30) for s in sizes]
    out = aesgcm.seal_packed(KEY, prefixes, pts, aads)
    for o, p, pt, a in zip(out, prefixes, pts, aads, strict=True):
        assert _open_packed(KEY, o, p, a) == pt
        body = o[len(p) :]
        assert aesgcm.open(KEY, body[:IV], body[IV:-16], body[-16:], a) == pt


def test_seal_packed_equal_sized_items_and_a_single_item() -> None:
    header = os.urandom(22)
    out = aesgcm.seal_packed(KEY, [header] * 300, [b"k" * 32] * 300, [header] * 300)
    assert {len(o) for o in out} == {22 + 12 + 32 + 16}
    assert all(_open_packed(KEY, o, header, header) == b"k" * 32 for o in out)
    (one,) = aesgcm.seal_packed(KEY, [b""], [b""], [b""])
    assert len(one) == 28 and _open_packed(KEY, one, b"", b"") == b""


def test_seal_packed_empty_batch() -> None:
    assert aesgcm.seal_packed(KEY, [], [], []) == []


def test_seal_packed_draws_distinct_ivs() -> None:
    out = aesgcm.seal_packed(KEY, [b"hdr"] * 1000, [b"x"] * 1000, [b""] * 1000)
    assert len({o[3:15] for o in out}) == 1000


def test_seal_packed_accepts_bytes_like_items_and_returns_bytes() -> None:
    wide = memoryview(array.array("I", [1, 2, 3]))  # len() 3, 12 bytes
    out = aesgcm.seal_packed(
        bytearray(KEY), (bytearray(b"h"), b"h2"), [memoryview(b"pt"), wide], [b"a", bytearray()]
    )
    assert all(type(o) is bytes for o in out)
    assert _open_packed(KEY, out[0], b"h", b"a") == b"pt"
    assert _open_packed(KEY, out[1], b"h2", b"") == bytes(wide)


def test_seal_packed_rejects_bad_inputs_before_c() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        aesgcm.seal_packed(b"short", [b""], [b"x"], [b""])
    with pytest.raises(TypeError, match="plaintext"):
        aesgcm.seal_packed(KEY, [b""], ["text"], [b""])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="prefix"):
        aesgcm.seal_packed(KEY, [b"", 7], [b"x", b"y"], [b"", b""])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="AAD"):
        aesgcm.seal_packed(KEY, [b""], [b"x"], [None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="sequences"):
        aesgcm.seal_packed(KEY, b"header", [b"x"], [b""])
    with pytest.raises(ValueError, match="one prefix and one AAD"):
        aesgcm.seal_packed(KEY, [b"", b""], [b"x"], [b""])
    with pytest.raises(ValueError, match="one prefix and one AAD"):
        aesgcm.seal_packed(KEY, [b""], [b"x"], [])
    with pytest.raises(ValueError, match="IV"):
        _binding.aes_gcm_seal_packed(KEY, [b""], [b"x"], [b""], [bytes(11)])


@pytest.mark.parametrize("uniform", [False, True], ids=["length-arrays", "one-length"])
def test_native_seal_packed_refuses_a_short_output_buffer(uniform: bool) -> None:
    ffi, lib = _binding.ffi, _binding.lib
    if uniform:  # two 5-byte plaintexts and two 1-byte AADs, no length arrays
        pts, lens, aads, aad_lens = b"1234567890", (ffi.NULL, 5), b"ab", (ffi.NULL, 1)
    else:
        pts, lens, aads = b"12345", (ffi.new("size_t[]", [5, 0]), 0), b""
        aad_lens = (ffi.new("size_t[]", [0, 0]), 0)
    need = 2 * (3 + 28) + len(pts)
    out = ffi.new("uint8_t[]", need)
    args = (b"hdr", ffi.NULL, 3, pts, *lens, aads, *aad_lens)
    assert lib.gw_aes_gcm_seal_packed(KEY, 2, *args, out, need - 1) == lib.GW_ERR_ARGUMENT
    assert bytes(ffi.buffer(out)) == bytes(need)  # nothing written
    assert lib.gw_aes_gcm_seal_packed(KEY, 2, *args, out, need) == lib.GW_OK
    ivs_null = lib.gw_aes_gcm_seal_packed_with_ivs(KEY, 2, ffi.NULL, *args, out, need)
    assert ivs_null == lib.GW_ERR_ARGUMENT


# --- opening packed items (the inverse of seal_packed) ---------------------


def _sealed_by_cryptography(prefix: bytes, pt: bytes, aad: bytes) -> bytes:
    iv = os.urandom(IV)
    return prefix + iv + AESGCM(KEY).encrypt(iv, pt, aad)


@settings(max_examples=150, deadline=None)
@given(items=_uniform_batches(), skip=st.integers(min_value=0, max_value=30))
def test_open_packed_opens_what_cryptography_sealed(
    items: list[tuple[bytes, bytes, bytes]], skip: int
) -> None:
    # Every prefix `skip` bytes long; plaintexts and AADs of one length or of many.
    prefixes = [p.ljust(skip, b"p")[:skip] for p, _, _ in items]
    blobs = [
        _sealed_by_cryptography(p, pt, a) for p, (_, pt, a) in zip(prefixes, items, strict=True)
    ]
    aads = [a for _, _, a in items]
    assert _binding.aes_gcm_open_packed(KEY, skip, blobs, aads) == [pt for _, pt, _ in items]


@pytest.mark.parametrize("n", [1, 2, 3, 1023, 1024, 1025, 2500])
def test_open_packed_round_trips_seal_packed_at_every_batch_size(n: int) -> None:
    header = os.urandom(22)
    pts = [os.urandom(32) for _ in range(n)]
    aads = [header + i.to_bytes(4, "big") for i in range(n)]
    blobs = aesgcm.seal_packed(KEY, [header] * n, pts, aads)
    opened = _binding.aes_gcm_open_packed(KEY, 22, blobs, aads)
    assert opened == pts and all(type(p) is bytes for p in opened)


def test_open_packed_mixed_sizes_and_bad_items_failing_alone() -> None:
    sizes = [0, 1, 15, 16, 17, 32, 255, 4096, 65536, 0, 3]
    pts = [os.urandom(s) for s in sizes]
    aads = [os.urandom(s % 50) for s in sizes]
    blobs = [_sealed_by_cryptography(b"hdr", pt, a) for pt, a in zip(pts, aads, strict=True)]
    assert _binding.aes_gcm_open_packed(KEY, 3, blobs, aads) == pts
    tampered = list(blobs)
    tampered[1] = blobs[1][:-1] + bytes([blobs[1][-1] ^ 1])  # tag
    tampered[5] = blobs[5][:20] + bytes([blobs[5][20] ^ 1]) + blobs[5][21:]  # ciphertext
    tampered[7] = blobs[7][:3] + bytes([blobs[7][3] ^ 1]) + blobs[7][4:]  # IV
    wrong_aads = list(aads)
    wrong_aads[2] = aads[2] + b"!"
    opened = _binding.aes_gcm_open_packed(KEY, 3, tampered, wrong_aads)
    failed = {1, 2, 5, 7}
    assert [i for i, p in enumerate(opened) if p is None] == sorted(failed)
    assert all(opened[i] == pts[i] for i in range(len(pts)) if i not in failed)


def test_open_packed_does_not_read_the_prefix() -> None:
    # The prefix is the caller's to authenticate (through the AAD): here it is not.
    blob = _sealed_by_cryptography(b"head", b"secret", b"")
    assert _binding.aes_gcm_open_packed(KEY, 4, [b"HEAD" + blob[4:]], [b""]) == [b"secret"]
    # ... and with it in the AAD, a changed prefix fails.
    blob = _sealed_by_cryptography(b"head", b"secret", b"head")
    assert _binding.aes_gcm_open_packed(KEY, 4, [b"HEAD" + blob[4:]], [b"HEAD"]) == [None]


def test_open_packed_rejects_bad_inputs_before_c() -> None:
    good = _sealed_by_cryptography(b"h", b"x", b"")
    with pytest.raises(ValueError, match="32 bytes"):
        _binding.aes_gcm_open_packed(b"short", 1, [good], [b""])
    with pytest.raises(ValueError, match="one AAD per item"):
        _binding.aes_gcm_open_packed(KEY, 1, [good], [])
    with pytest.raises(ValueError, match="negative"):
        _binding.aes_gcm_open_packed(KEY, -1, [good], [b""])
    with pytest.raises(ValueError, match="at least 29 bytes"):  # one byte short of 1 + 12 + 16
        _binding.aes_gcm_open_packed(KEY, 1, [good, bytes(28)], [b"", b""])
    with pytest.raises(ValueError, match="at least 29 bytes"):
        _binding.aes_gcm_open_packed(KEY, 1, [bytes(28)], [b""])
    wide: list = [memoryview(array.array("I", range(10)))]  # len() 10, 40 bytes
    with pytest.raises(_binding.NotBytesError, match="item"):
        _binding.aes_gcm_open_packed(KEY, 0, wide, [b""])
    assert _binding.aes_gcm_open_packed(KEY, 0, [], []) == []


@pytest.mark.parametrize("uniform", [False, True], ids=["length-arrays", "one-length"])
def test_native_open_packed_refuses_short_items_and_a_short_output_buffer(uniform: bool) -> None:
    ffi, lib = _binding.ffi, _binding.lib
    blobs = [_sealed_by_cryptography(b"hd", b"12345", b"a") for _ in range(2)]
    items = b"".join(blobs)
    if uniform:
        lens, aad_lens = (ffi.NULL, len(blobs[0])), (ffi.NULL, 1)
    else:
        lens = (ffi.new("size_t[]", [len(b) for b in blobs]), 0)
        aad_lens = (ffi.new("size_t[]", [1, 1]), 0)
    pts, status = ffi.new("uint8_t[]", 10), ffi.new("uint8_t[]", 2)

    def call(skip: int, cap: int) -> int:
        return lib.gw_aes_gcm_open_packed(KEY, 2, skip, items, *lens, b"aa", *aad_lens,
                                          pts, cap, status)  # fmt: skip

    assert call(2, 9) == lib.GW_ERR_ARGUMENT
    assert call(len(blobs[0]) - 27, 10) == lib.GW_ERR_ARGUMENT  # items too short for the skip
    assert bytes(ffi.buffer(pts)) == bytes(10)  # nothing written
    assert call(2, 10) == lib.GW_OK
    assert bytes(ffi.buffer(pts)) == b"12345" * 2 and bytes(ffi.buffer(status)) == bytes(2)
