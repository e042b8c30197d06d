"""The in-process handler benchmark drives real signed requests through the endpoint."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest

from loadtest import ablation, bench_handler
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY

# The head and tail of an out file written by
# valgrind --tool=callgrind --toggle-collect=functools_reduce (callgrind 3.19).
CALLGRIND_OUT = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 18214
cmd:  /usr/bin/python3.11 -m loadtest.bench_handler --under-callgrind --op Encrypt
part: 1

desc: Timerange: Basic block 0 - 1631757146
desc: Trigger: Program termination

positions: line
events: Ir
summary: 153752955


ob=(1) /usr/bin/python3.11
fl=(1) ???
fn=(1) 0x0000000000022d40
0 3

totals: 153752955
"""


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    monkeypatch.setenv("GATEWAY_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("op", bench_handler.OPS)
async def test_every_operation_is_answered_without_an_error(op: str) -> None:
    # _measure stops with SystemExit if any answer is an AWS error.
    samples, loop_thread = await bench_handler._measure(op, rounds=1, concurrency=4)
    assert len(samples) == len(loop_thread) == bench_handler.LOTS_PER_ROUND
    assert all(sample > 0 for sample in samples)
    assert all(thread > 0 for thread in loop_thread)


@pytest.mark.usefixtures("credentials")
def test_settings_come_from_the_gateway_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GATEWAY_ECDSA_PRECOMPUTE", "0")
    monkeypatch.setenv("GATEWAY_ECDSA_INLINE_MAX", "7")
    settings = bench_handler._settings(str(tmp_path))
    assert (settings.ecdsa_precompute, settings.ecdsa_inline_max) == (0, 7)
    assert settings.data_dir == tmp_path and settings.log_level == "WARNING"


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("op", bench_handler.OPS)
def test_the_counted_lots_are_answered_without_an_error(op: str) -> None:
    # A plain test: the callgrind path runs its own event loop, as the child does, minus
    # valgrind (far too slow here).
    answers = bench_handler._answers_counted(op, lots=2, concurrency=4)
    assert len(answers) == 2 * 4
    assert [answer.status for answer in answers] == [200] * 8


def test_the_instruction_total_is_read_from_the_callgrind_out_file() -> None:
    assert bench_handler._collected(CALLGRIND_OUT) == 153_752_955


def test_an_out_file_without_a_total_is_an_error() -> None:
    with pytest.raises(SystemExit, match="no summary"):
        bench_handler._collected("# callgrind format\nevents: Ir\n")


def test_the_request_count_is_read_from_the_child_output() -> None:
    assert bench_handler._requests_measured("measured 640 requests\n") == 640


# --- the stand-ins of --without: each must really take its part's place ---


def _answered(op: str, parts: list[str], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    ablation.apply(parts, patch=monkeypatch.setattr)  # undone after the test
    answers = bench_handler._answers_counted(op, lots=1, concurrency=4)
    assert [answer.status for answer in answers] == [200] * 4
    return [orjson.loads(answer.body) for answer in answers]


@pytest.mark.usefixtures("credentials")
def test_without_crypto_the_blobs_hold_no_ciphertext(monkeypatch: pytest.MonkeyPatch) -> None:
    for answer in _answered("Encrypt", [], monkeypatch):
        assert base64.b64decode(answer["CiphertextBlob"])[-28:] != bytes(28)
    for part in ("crypto", "crypto-next-turn"):
        for answer in _answered("Encrypt", [part], monkeypatch):
            # header, then an all-zero stand-in for iv || ciphertext || tag of the same size
            assert base64.b64decode(answer["CiphertextBlob"])[-(12 + 32 + 16) :] == bytes(60)


def test_without_sigv4_only_the_first_request_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.errors import InvalidSignatureException
    from gateway.http.endpoint import KmsEndpoint
    from gateway.protocol import sigv4

    checked: list[str] = []

    def probe(name: str, answer: str) -> Any:
        def check(*args: Any, **kwargs: Any) -> str:
            checked.append(name)
            if checked.count(name) > 1:
                raise InvalidSignatureException("")
            return answer

        return check

    # Probes in place of the real checks; the stand-ins wrap whatever is there when applied.
    monkeypatch.setattr(sigv4, "parse_authorization", probe("parse", "signed"))
    monkeypatch.setattr(KmsEndpoint, "_authenticate", probe("verify", "caller"))
    ablation.apply(["sigv4"], patch=monkeypatch.setattr)
    endpoint = object.__new__(KmsEndpoint)
    for _ in range(3):
        assert sigv4.parse_authorization({}, now=0.0) == "signed"
        assert endpoint._authenticate(None, b"", "signed", None) == "caller"
    assert checked == ["parse", "verify"]


@pytest.mark.usefixtures("credentials")
def test_without_quota_nothing_is_charged(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.quotas.enforcer import Charge, QuotaEnforcer
    from gateway.quotas.limiter import LocalLimiter
    from gateway.quotas.table import QuotaTable

    enforcer = QuotaEnforcer(QuotaTable(), LocalLimiter())
    ablation.apply(["quota"], patch=monkeypatch.setattr)
    # far more than any quota allows in one second, and not one throttled
    for _ in range(100_000):
        enforcer.charge("111122223333", "us-east-1", "Encrypt", (Charge("kms:CreateKey"),))


@pytest.mark.usefixtures("credentials")
def test_without_metrics_no_request_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.metrics.usage import GatewayMetrics
    from gateway.quotas.table import QuotaTable

    ablation.apply(["metrics"], patch=monkeypatch.setattr)
    metrics = GatewayMetrics(QuotaTable())
    metrics.observe_request("Encrypt", 0.001, None, None)
    metrics.on_charge("111122223333", "us-east-1", "kms:CreateKey", "CreateKey", False)
    metrics.flush()
    assert b'operation="Encrypt"' not in generate_latest(metrics.registry)


async def test_crypto_stand_ins_answer_at_once_or_on_the_next_turn() -> None:
    at_once, next_turn = ablation._done("a"), ablation._next_turn("b")
    assert at_once.done() and not next_turn.done()
    await asyncio.sleep(0)
    assert next_turn.result() == "b"


def test_an_unknown_part_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown part 'bogus'"):
        ablation.apply(["bogus"], patch=lambda *args: None)


# Work each stand-in must take off the path of a real request: (module, class, function).
_DOWNSTREAM = {
    "sigv4": ("gateway.protocol.sigv4", None, "verify_signature"),
    "quota": ("gateway.quotas.limiter", "LocalLimiter", "try_take"),
    "metrics": ("gateway.metrics.tally", "HistogramTally", "observe"),
}


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count calls of each part's downstream work, through whatever calls it."""
    import importlib

    calls = dict.fromkeys(_DOWNSTREAM, 0)
    for part, (module_name, class_name, name) in _DOWNSTREAM.items():
        module = importlib.import_module(module_name)
        owner = getattr(module, class_name) if class_name else module
        real = getattr(owner, name)

        def counted(*args: Any, _real: Any = real, _part: str = part, **kwargs: Any) -> Any:
            calls[_part] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("part", sorted(_DOWNSTREAM))
def test_requests_through_the_endpoint_skip_the_replaced_part(
    part: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_calls(monkeypatch)
    _answered("Encrypt", [], monkeypatch)
    assert calls[part] >= 4  # without the stand-in, every request does this work
    calls.update(dict.fromkeys(calls, 0))
    _answered("Encrypt", [part], monkeypatch)
    # sigv4: only the run's first request (its CreateKey) is checked for real
    assert calls[part] == (1 if part == "sigv4" else 0)
