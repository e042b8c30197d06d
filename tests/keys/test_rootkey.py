"""RootKey loading (env, mounted file, generated root.key), wrapping and AAD encodings."""

from __future__ import annotations

import base64
import os
import pickle
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.keys.rootkey import RootKey, RootKeyError, material_aad, secret_aad

KEY_BYTES = bytes(range(32))
ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def env_with_key(key: bytes) -> dict[str, str]:
    return {"GATEWAY_ROOT_KEY": base64.b64encode(key).decode()}


# --- loading -------------------------------------------------------------------------------
def test_first_load_creates_root_key_file_with_mode_0600(tmp_path: Path) -> None:
    root = RootKey.load(tmp_path, env={})
    path = tmp_path / "root.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    assert root.source == str(path)
    # No temporary file is left behind.
    assert [p.name for p in tmp_path.iterdir()] == ["root.key"]


def test_first_load_creates_a_missing_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "a" / "b"
    RootKey.load(data_dir, env={})
    assert (data_dir / "root.key").is_file()


def test_second_load_returns_the_same_key(tmp_path: Path) -> None:
    first = RootKey.load(tmp_path, env={})
    second = RootKey.load(tmp_path, env={})
    assert first.fingerprint == second.fingerprint
    blob = first.wrap(b"material", b"aad")
    assert second.unwrap(blob, b"aad") == b"material"


def test_two_data_dirs_get_different_keys(tmp_path: Path) -> None:
    a = RootKey.load(tmp_path / "a", env={})
    b = RootKey.load(tmp_path / "b", env={})
    assert a.fingerprint != b.fingerprint


def test_env_var_wins_over_key_file_and_data_dir(tmp_path: Path) -> None:
    file_key = tmp_path / "mounted"
    file_key.write_bytes(b"\xff" * 32)
    env = {**env_with_key(KEY_BYTES), "GATEWAY_ROOT_KEY_FILE": str(file_key)}
    root = RootKey.load(tmp_path, env=env)
    assert root.fingerprint == RootKey(KEY_BYTES).fingerprint
    assert root.source == "env GATEWAY_ROOT_KEY"
    assert not (tmp_path / "root.key").exists()


def test_key_file_env_var_wins_over_data_dir(tmp_path: Path) -> None:
    RootKey.load(tmp_path, env={})  # creates a root.key that must be ignored
    mounted = tmp_path / "secret"
    mounted.write_bytes(KEY_BYTES)
    mounted.chmod(0o644)  # mounted secrets are often world-readable; that is the mount's call
    root = RootKey.load(tmp_path, env={"GATEWAY_ROOT_KEY_FILE": str(mounted)})
    assert root.fingerprint == RootKey(KEY_BYTES).fingerprint


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_env_key_of_wrong_length_is_rejected_naming_the_source(tmp_path: Path, size: int) -> None:
    key = os.urandom(size)
    with pytest.raises(ValueError, match=f"GATEWAY_ROOT_KEY decodes to {size} bytes") as info:
        RootKey.load(tmp_path, env=env_with_key(key))
    if size:
        assert base64.b64encode(key).decode() not in str(info.value)


def test_env_key_that_is_not_base64_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GATEWAY_ROOT_KEY is not valid base64") as info:
        RootKey.load(tmp_path, env={"GATEWAY_ROOT_KEY": "not*base64!"})
    assert "not*base64!" not in str(info.value)


def test_env_key_tolerates_a_trailing_newline(tmp_path: Path) -> None:
    env = {"GATEWAY_ROOT_KEY": base64.b64encode(KEY_BYTES).decode() + "\n"}
    assert RootKey.load(tmp_path, env=env).fingerprint == RootKey(KEY_BYTES).fingerprint


@pytest.mark.parametrize("size", [0, 31, 33, 44])
def test_key_file_of_wrong_length_is_rejected_naming_the_source(tmp_path: Path, size: int) -> None:
    mounted = tmp_path / "secret"
    mounted.write_bytes(b"k" * size)
    with pytest.raises(ValueError, match="GATEWAY_ROOT_KEY_FILE=.*secret.*exactly 32"):
        RootKey.load(tmp_path, env={"GATEWAY_ROOT_KEY_FILE": str(mounted)})


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GATEWAY_ROOT_KEY_FILE=.*cannot be read"):
        RootKey.load(tmp_path, env={"GATEWAY_ROOT_KEY_FILE": str(tmp_path / "absent")})
    assert not (tmp_path / "root.key").exists()


def test_data_dir_root_key_of_wrong_length_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(ValueError, match="root.key holds 5 bytes"):
        RootKey.load(tmp_path, env={})


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620, 0o602])
def test_root_key_file_accessible_by_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(KEY_BYTES)
    path.chmod(mode)
    with pytest.raises(ValueError, match="group or others.*chmod 600"):
        RootKey.load(tmp_path, env={})


def test_root_key_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root.key").mkdir(mode=0o700)
    with pytest.raises((ValueError, IsADirectoryError)):
        RootKey.load(tmp_path, env={})


def test_constructor_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="expected 32 bytes"):
        RootKey(b"\x00" * 16)


# --- secrecy -------------------------------------------------------------------------------
def test_repr_and_str_leak_nothing_about_the_key() -> None:
    root = RootKey(KEY_BYTES)
    text = repr(root) + str(root)
    assert root.fingerprint in text
    for leak in (KEY_BYTES.hex(), base64.b64encode(KEY_BYTES).decode(), repr(KEY_BYTES)):
        assert leak not in text


def test_root_key_has_no_instance_dict_and_cannot_be_pickled() -> None:
    root = RootKey(KEY_BYTES)
    assert not hasattr(root, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(root)


def test_fingerprint_is_short_stable_and_not_the_key() -> None:
    fp = RootKey(KEY_BYTES).fingerprint
    assert fp == RootKey(KEY_BYTES).fingerprint
    assert len(fp) == 8 and int(fp, 16) >= 0
    assert fp not in KEY_BYTES.hex()
    assert fp != RootKey(b"\x01" * 32).fingerprint


# --- wrap / unwrap -------------------------------------------------------------------------
@given(plaintext=st.binary(max_size=2048), aad=st.binary(max_size=256))
def test_wrap_unwrap_round_trips(plaintext: bytes, aad: bytes) -> None:
    root = RootKey(KEY_BYTES)
    blob = root.wrap(plaintext, aad)
    assert blob[0] == 0x01
    assert len(blob) == 1 + 12 + len(plaintext) + 16
    assert root.unwrap(blob, aad) == plaintext


def test_wrap_uses_a_fresh_iv_each_time() -> None:
    root = RootKey(KEY_BYTES)
    blobs = {root.wrap(b"same", b"aad") for _ in range(50)}
    assert len(blobs) == 50
    assert len({b[1:13] for b in blobs}) == 50


def _unwrap_error(root: RootKey, blob: bytes, aad: bytes) -> str:
    with pytest.raises(RootKeyError) as info:
        root.unwrap(blob, aad)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return str(info.value)


def test_every_unwrap_failure_is_the_same_root_key_error() -> None:
    root = RootKey(KEY_BYTES)
    aad = material_aad(ARN, 1)
    blob = root.wrap(b"k" * 32, aad)
    flipped = [bytes(blob[:i]) + bytes([blob[i] ^ 0x01]) + blob[i + 1 :] for i in (1, 13, -1)]
    failures = [
        (root, blob, material_aad(ARN, 2)),  # wrong version
        (root, blob, material_aad(ARN.replace("1234abcd", "9999abcd"), 1)),  # wrong key ARN
        (root, blob, b""),
        *((root, f, aad) for f in flipped),  # IV, ciphertext, tag
        (root, b"\x02" + blob[1:], aad),  # unknown format version
        (root, blob[:-1], aad),  # truncated tag
        (root, blob[:29], aad),  # shorter than header + tag
        (root, b"", aad),
        (RootKey(b"\x07" * 32), blob, aad),  # another root key
    ]
    messages = {_unwrap_error(r, b, a) for r, b, a in failures}
    assert len(messages) == 1
    assert isinstance(RootKeyError(), ValueError)


def test_material_blob_never_unwraps_as_a_secret() -> None:
    root = RootKey(KEY_BYTES)
    blob = root.wrap(b"secret", material_aad("AKIA", 1))
    with pytest.raises(RootKeyError):
        root.unwrap(blob, secret_aad("AKIA"))


# --- AAD encodings -------------------------------------------------------------------------
def test_material_aad_is_deterministic_and_binds_arn_and_version() -> None:
    assert material_aad(ARN, 1) == material_aad(ARN, 1)
    assert material_aad(ARN, 1) != material_aad(ARN, 2)
    assert material_aad(ARN, 1) != material_aad(ARN + "x", 1)
    assert ARN.encode() in material_aad(ARN, 1)


def test_material_aad_is_length_prefixed_so_fields_cannot_shift() -> None:
    # With plain concatenation an ARN ending in a digit could pose as another version.
    assert material_aad("arn1", 0x31) != material_aad("arn", 0x3131)
    assert material_aad("a", 256) != material_aad("a\x00\x00\x01", 0)


def test_material_aad_rejects_versions_out_of_range() -> None:
    for bad in (-1, 2**32):
        with pytest.raises(ValueError):
            material_aad(ARN, bad)


def test_secret_aad_binds_the_access_key_id() -> None:
    assert secret_aad("AKIA1") == secret_aad("AKIA1")
    assert secret_aad("AKIA1") != secret_aad("AKIA2")
    assert secret_aad("AKIA1") != material_aad("AKIA1", 0)


@given(a=st.text(max_size=20), b=st.text(max_size=20))
def test_secret_aad_is_injective(a: str, b: str) -> None:
    if a != b:
        assert secret_aad(a) != secret_aad(b)


def test_workers_starting_together_all_get_the_same_generated_key(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)

    def load() -> str:
        barrier.wait()
        return RootKey.load(tmp_path, env={}).fingerprint

    with ThreadPoolExecutor(max_workers=8) as pool:
        fingerprints = set(pool.map(lambda _: load(), range(8)))
    assert len(fingerprints) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["root.key"]
