"""Settings: command-line flags > environment > TOML config file > defaults, validated once."""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from gateway.crypto.ecdsa import MAX_PRECOMPUTED_NONCES
from gateway.quotas.table import Override, QuotaConfigError, parse_overrides


class ConfigError(ValueError):
    """A setting is invalid; the message names the setting and where it came from."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("gateway-data")
    workers: int = 1
    config: Path | None = None
    account_id: str = "111122223333"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "INFO"
    # Largest request body read; KMS requests are small (4 KiB plaintext, 32 KiB policies).
    max_body_bytes: int = 1 << 20
    # Longest wait for the rest of a request body once its headers have arrived; past it the
    # answer is 408 and the connection is closed (after at most 2 s more of draining).
    body_timeout_seconds: float = 20.0
    # How long a connection may stay idle (between requests, before its first request's
    # headers are complete, or with TLS in its handshake) before it is closed.
    idle_timeout_seconds: float = 60.0
    # How often a worker reads the store's change log to drop cache entries that other
    # workers' writes (DisableKey, ScheduleKeyDeletion) made stale: they are seen within it.
    key_cache_seconds: float = 1.0
    # How often the sweepers look for keys whose deletion waiting period has ended, and for
    # keys whose automatic rotation is due.
    deletion_sweep_seconds: float = 60.0
    # Length of one "day" of a key-deletion waiting period and of a rotation period: shorter
    # only in rehearsals and tests, so that real destruction and rotation can be exercised.
    deletion_day_seconds: float = 86_400.0
    # Requests one worker process handles at once; past it, ThrottlingException at once.
    max_in_flight: int = 1024
    # Connections one worker process keeps open; past it, a new one is closed when accepted.
    max_connections: int = 10_000
    # ECDSA groups of up to this many items are signed/verified on the event-loop thread
    # while the worker's native ECDSA thread is idle; larger ones, and any while it is
    # busy, on that thread (0: always that thread). Measured in BENCHMARKS.md.
    ecdsa_inline_max: int = 1
    # ECDSA nonces kept precomputed per curve by a native thread of each worker (0: none):
    # most of a signature's cost, moved off the event loop. Off by default: a VM snapshot
    # restored twice (or a running clone) would sign with the same nonces and give the key
    # away. Measured in BENCHMARKS.md.
    ecdsa_precompute: int = 0
    # Scheduling of each worker's native ECDSA thread: "idle" (Linux SCHED_IDLE: it signs
    # on cores nothing else wants and never takes the event loop's; back to normal after
    # a batch waits 50 ms for a core), "normal", or "auto": idle while the workers leave a
    # core spare (workers < usable cores), else normal. Measured in BENCHMARKS.md.
    ecdsa_thread_priority: str = "auto"
    # ``[[quota]]`` entries of the config file: overrides of the documented quotas.
    quota_overrides: tuple[Override, ...] = ()


# Environment variable for each setting; these names are a contract other tools rely on.
ENV_NAMES = {
    f.name: "GATEWAY_" + f.name.upper() for f in fields(Settings) if f.name != "quota_overrides"
}


_INTS = (
    "port",
    "workers",
    "max_body_bytes",
    "max_in_flight",
    "max_connections",
    "ecdsa_inline_max",
    "ecdsa_precompute",
)
_FLOATS = (
    "key_cache_seconds",
    "deletion_sweep_seconds",
    "deletion_day_seconds",
    "body_timeout_seconds",
    "idle_timeout_seconds",
)
_PATHS = ("data_dir", "config", "tls_cert", "tls_key")
ECDSA_THREAD_PRIORITIES = ("auto", "idle", "normal")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def idle_ecdsa_thread(s: Settings) -> bool:
    """Whether the workers' ECDSA threads run at idle priority: with a core to spare, a
    signature then never takes the event loop's core (BENCHMARKS.md)."""
    if s.ecdsa_thread_priority == "auto":
        return s.workers < usable_cores()
    return s.ecdsa_thread_priority == "idle"


def _convert(name: str, raw: Any, source: str) -> Any:
    """Turn a raw value into the setting's type; TOML values must already have that type."""
    kind = Settings.__dataclass_fields__[name].type
    error = ConfigError(f"{name} from {source}: {raw!r} is not a valid {kind}")
    typed = not isinstance(raw, str)  # a TOML value, not text from a flag or the environment
    if isinstance(raw, bool):
        raise error
    try:
        if name in _INTS:
            if typed and not isinstance(raw, int):
                raise error
            value: Any = int(raw)
        elif name in _FLOATS:
            if typed and not isinstance(raw, int | float):
                raise error
            value = float(raw)
            if not math.isfinite(value):
                raise error
        elif name in _PATHS:
            if typed and not isinstance(raw, str | os.PathLike):
                raise error
            value = Path(str(raw)).expanduser()
        else:
            if typed:
                raise error
            value = str(raw)
    except (TypeError, ValueError):
        raise error from None
    return value


def _validate(s: Settings) -> None:
    if not 0 <= s.port <= 65535:
        raise ConfigError(f"port must be 0..65535, got {s.port}")
    if not 1 <= s.workers <= 256:
        raise ConfigError(f"workers must be 1..256, got {s.workers}")
    if not (len(s.account_id) == 12 and s.account_id.isdigit()):
        raise ConfigError(f"account_id must be 12 digits, got {s.account_id!r}")
    if (s.tls_cert is None) != (s.tls_key is None):
        raise ConfigError("tls_cert and tls_key must be given together")
    if s.deletion_day_seconds <= 0 or s.deletion_sweep_seconds <= 0:
        raise ConfigError("deletion_day_seconds and deletion_sweep_seconds must be positive")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(
            f"log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {s.log_level!r}"
        )
    if s.max_in_flight < 1:
        raise ConfigError(f"max_in_flight must be at least 1, got {s.max_in_flight}")
    if not 1 <= s.max_connections <= 1_000_000:
        raise ConfigError(f"max_connections must be 1..1000000, got {s.max_connections}")
    if not 0 <= s.ecdsa_inline_max <= 1024:
        raise ConfigError(f"ecdsa_inline_max must be 0..1024, got {s.ecdsa_inline_max}")
    if not 0 <= s.ecdsa_precompute <= MAX_PRECOMPUTED_NONCES:
        raise ConfigError(
            f"ecdsa_precompute must be 0..{MAX_PRECOMPUTED_NONCES}, got {s.ecdsa_precompute}"
        )
    if s.ecdsa_thread_priority not in ECDSA_THREAD_PRIORITIES:
        raise ConfigError(
            f"ecdsa_thread_priority must be auto, idle or normal, got {s.ecdsa_thread_priority!r}"
        )
    if s.max_body_bytes < 1024:
        raise ConfigError("max_body_bytes must be at least 1024")
    if not 1 <= s.idle_timeout_seconds <= 3600:
        raise ConfigError(f"idle_timeout_seconds must be 1..3600, got {s.idle_timeout_seconds}")
    if not 0.1 <= s.body_timeout_seconds <= 3600:
        raise ConfigError(f"body_timeout_seconds must be 0.1..3600, got {s.body_timeout_seconds}")


def load_settings(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Merge the sources; ``flags`` holds only the options given on the command line."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    values: dict[str, Any] = {}

    config_path = flags.get("config") or env.get(ENV_NAMES["config"])
    if config_path:
        path = Path(config_path).expanduser()
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        section = table.get("gateway", table)
        for name, raw in section.items():
            if name in ("gateway", "quota"):
                continue  # the [gateway] table itself; [[quota]] is read below
            if name not in ENV_NAMES or name == "config":
                raise ConfigError(f"config file {path}: unknown setting {name!r}")
            values[name] = _convert(name, raw, f"config file {path}")
        try:
            values["quota_overrides"] = tuple(parse_overrides(table.get("quota", [])))
        except QuotaConfigError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        values["config"] = path
    for name, env_name in ENV_NAMES.items():
        if env_name in env and env[env_name] != "":
            values[name] = _convert(name, env[env_name], f"environment {env_name}")
    for name, raw in flags.items():
        if name in ENV_NAMES:
            values[name] = _convert(name, raw, f"--{name.replace('_', '-')}")
    settings = Settings(**values)
    _validate(settings)
    return settings
