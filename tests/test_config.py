"""``gateway.config.load_settings``: flags > environment > TOML file > defaults, validated."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from gateway.config import (
    ENV_NAMES,
    ConfigError,
    Settings,
    idle_ecdsa_thread,
    load_settings,
    usable_cores,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_given():
    settings = load_settings({}, env={})
    assert settings == Settings()
    assert settings.port == 8080 and settings.workers == 1 and settings.host == "127.0.0.1"
    assert settings.config is None and settings.tls_cert is None


def test_every_setting_has_a_gateway_env_name():
    assert ENV_NAMES["port"] == "GATEWAY_PORT"
    assert ENV_NAMES["data_dir"] == "GATEWAY_DATA_DIR"
    assert ENV_NAMES["key_cache_seconds"] == "GATEWAY_KEY_CACHE_SECONDS"
    assert all(name.startswith("GATEWAY_") for name in ENV_NAMES.values())


def test_flag_beats_env_beats_file_beats_default(tmp_path):
    config = write(tmp_path / "g.toml", "port = 1001\nworkers = 3\nhost = '0.0.0.0'\n")
    settings = load_settings(
        {"config": str(config), "port": 1003},
        env={"GATEWAY_PORT": "1002", "GATEWAY_WORKERS": "4"},
    )
    assert settings.port == 1003  # flag
    assert settings.workers == 4  # environment over file
    assert settings.host == "0.0.0.0"  # file over default
    assert settings.log_level == "INFO"  # default
    assert load_settings({"config": str(config)}, env={"GATEWAY_PORT": "1002"}).port == 1002
    assert load_settings({"config": str(config)}, env={}).port == 1001


def test_flags_given_as_none_and_empty_env_values_are_ignored(tmp_path):
    config = write(tmp_path / "g.toml", "port = 1001\n")
    settings = load_settings(
        {"config": str(config), "port": None, "workers": None},
        env={"GATEWAY_PORT": "", "GATEWAY_WORKERS": ""},
    )
    assert settings.port == 1001 and settings.workers == 1


def test_config_file_from_env_and_flag_precedence(tmp_path):
    from_env = write(tmp_path / "env.toml", "port = 2001\n")
    from_flag = write(tmp_path / "flag.toml", "port = 2002\n")
    settings = load_settings({}, env={"GATEWAY_CONFIG": str(from_env)})
    assert (settings.port, settings.config) == (2001, from_env)
    settings = load_settings({"config": str(from_flag)}, env={"GATEWAY_CONFIG": str(from_env)})
    assert (settings.port, settings.config) == (2002, from_flag)


def test_gateway_table_is_read_and_unknown_tables_are_refused(tmp_path):
    config = write(tmp_path / "g.toml", "[gateway]\nport = 3001\nlog_level = 'DEBUG'\n")
    settings = load_settings({"config": str(config)}, env={})
    assert settings.port == 3001 and settings.log_level == "DEBUG"
    top_level = write(tmp_path / "t.toml", "port = 3002\n")
    assert load_settings({"config": str(top_level)}, env={}).port == 3002
    # [quotas] is a typo of [[quota]]: silently ignoring it would leave the defaults in force.
    typo = write(tmp_path / "q.toml", "port = 3002\n[quotas]\nrequests = 9\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"config": str(typo)}, env={})
    assert "'quotas'" in str(excinfo.value)


def test_conversions_from_strings(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = load_settings(
        {"data_dir": "~/keys"},
        env={
            "GATEWAY_PORT": "9000",
            "GATEWAY_WORKERS": "8",
            "GATEWAY_KEY_CACHE_SECONDS": "0.25",
            "GATEWAY_DELETION_DAY_SECONDS": "2",
            "GATEWAY_MAX_BODY_BYTES": "4096",
            "GATEWAY_TLS_CERT": "/etc/c.pem",
            "GATEWAY_TLS_KEY": "/etc/k.pem",
        },
    )
    assert settings.port == 9000 and isinstance(settings.port, int)
    assert settings.workers == 8
    assert settings.key_cache_seconds == 0.25
    assert settings.deletion_day_seconds == 2.0 and isinstance(settings.deletion_day_seconds, float)
    assert settings.max_body_bytes == 4096
    assert settings.data_dir == tmp_path / "keys"
    assert settings.tls_cert == Path("/etc/c.pem") and settings.tls_key == Path("/etc/k.pem")


@pytest.mark.parametrize(
    "field", [f for f in fields(Settings) if f.type in ("int", "float")], ids=lambda f: f.name
)
def test_every_numeric_setting_from_env_is_converted_to_its_type(field):
    # A setting left out of _convert's lists would stay a str and break its first use.
    default = getattr(Settings(), field.name)
    settings = load_settings({}, env={ENV_NAMES[field.name]: str(default)})
    value = getattr(settings, field.name)
    assert type(value) is type(default) and value == default


def test_toml_values_keep_their_types(tmp_path):
    config = write(tmp_path / "g.toml",
                   "port = 0\nworkers = 256\nkey_cache_seconds = 3\ndata_dir = 'd'\n")
    settings = load_settings({"config": str(config)}, env={})
    assert settings.port == 0 and settings.workers == 256
    assert settings.key_cache_seconds == 3.0 and settings.data_dir == Path("d")


@pytest.mark.parametrize(
    ("flags", "env", "words"),
    [
        ({"port": "abc"}, {}, ["port from --port", "'abc'"]),
        ({}, {"GATEWAY_PORT": "abc"}, ["port from environment GATEWAY_PORT", "'abc'"]),
        ({}, {"GATEWAY_KEY_CACHE_SECONDS": "soon"}, ["key_cache_seconds", "GATEWAY_", "'soon'"]),
        ({"port": 65536}, {}, ["port must be 0..65535", "65536"]),
        ({"port": -1}, {}, ["port must be 0..65535"]),
        ({"workers": 0}, {}, ["workers must be 1..256", "0"]),
        ({"workers": 257}, {}, ["workers must be 1..256"]),
        ({}, {"GATEWAY_ACCOUNT_ID": "abc123456789"}, ["account_id must be 12 digits"]),
        ({}, {"GATEWAY_ACCOUNT_ID": "1234"}, ["account_id"]),
        ({"tls_cert": "c.pem"}, {}, ["tls_cert and tls_key"]),
        ({"tls_key": "k.pem"}, {}, ["tls_cert and tls_key"]),
        ({}, {"GATEWAY_DELETION_DAY_SECONDS": "0"}, ["deletion_day_seconds"]),
        ({}, {"GATEWAY_DELETION_SWEEP_SECONDS": "-1"}, ["deletion_sweep_seconds"]),
        ({}, {"GATEWAY_MAX_BODY_BYTES": "1023"}, ["max_body_bytes"]),
        ({}, {"GATEWAY_ECDSA_INLINE_MAX": "-1"}, ["ecdsa_inline_max must be 0..1024", "-1"]),
        ({}, {"GATEWAY_ECDSA_INLINE_MAX": "1025"}, ["ecdsa_inline_max"]),
        ({}, {"GATEWAY_ECDSA_PRECOMPUTE": "-1"}, ["ecdsa_precompute must be 0..65536", "-1"]),
        ({}, {"GATEWAY_ECDSA_PRECOMPUTE": "65537"}, ["ecdsa_precompute"]),
        (
            {},
            {"GATEWAY_ECDSA_THREAD_PRIORITY": "low"},
            ["ecdsa_thread_priority must be auto, idle or normal", "'low'"],
        ),
        ({}, {"GATEWAY_BODY_TIMEOUT_SECONDS": "0"}, ["body_timeout_seconds must be 0.1..3600"]),
        ({}, {"GATEWAY_BODY_TIMEOUT_SECONDS": "3601"}, ["body_timeout_seconds", "3601"]),
        ({}, {"GATEWAY_IDLE_TIMEOUT_SECONDS": "0.5"}, ["idle_timeout_seconds must be 1..3600"]),
        ({}, {"GATEWAY_MAX_CONNECTIONS": "0"}, ["max_connections must be 1..1000000", "0"]),
        ({}, {"GATEWAY_MAX_CONNECTIONS": "1000001"}, ["max_connections"]),
    ],
)
def test_invalid_values_raise_config_error_naming_the_setting(flags, env, words):
    with pytest.raises(ConfigError) as excinfo:
        load_settings(flags, env=env)
    for word in words:
        assert word in str(excinfo.value)


def test_bad_value_in_file_names_the_file(tmp_path):
    config = write(tmp_path / "g.toml", 'workers = "many"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"config": str(config)}, env={})
    assert f"workers from config file {config}" in str(excinfo.value)
    assert "'many'" in str(excinfo.value)


def test_a_valid_env_value_does_not_hide_an_invalid_file_value(tmp_path):
    # Every source is converted, so a broken file is reported even when env overrides it.
    config = write(tmp_path / "g.toml", 'port = "abc"\n')
    with pytest.raises(ConfigError):
        load_settings({"config": str(config)}, env={"GATEWAY_PORT": "9000"})


def test_unreadable_and_malformed_config_files(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"config": str(tmp_path / "missing.toml")}, env={})
    assert "missing.toml" in str(excinfo.value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"config": str(tmp_path)}, env={})  # a directory
    assert str(tmp_path) in str(excinfo.value)
    broken = write(tmp_path / "broken.toml", "port = \n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"config": str(broken)}, env={})
    assert "broken.toml" in str(excinfo.value)


def test_non_utf8_config_file_is_a_config_error(tmp_path):
    config = tmp_path / "latin1.toml"
    config.write_bytes(b"host = '\xe9'\n")
    with pytest.raises(ConfigError):
        load_settings({"config": str(config)}, env={})


@pytest.mark.parametrize(
    "toml", ["workers = true", "port = 8080.9", "deletion_day_seconds = nan"]
)
def test_wrongly_typed_toml_values_are_rejected(tmp_path, toml):
    config = write(tmp_path / "g.toml", toml + "\n")
    with pytest.raises(ConfigError):
        load_settings({"config": str(config)}, env={})


def test_log_level_is_validated_case_insensitively():
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"log_level": "LOUD"}, env={})
    assert "log_level" in str(excinfo.value) and "'LOUD'" in str(excinfo.value)
    assert load_settings({}, env={"GATEWAY_LOG_LEVEL": "warning"}).log_level.upper() == "WARNING"


def test_unknown_settings_in_the_file_are_refused(tmp_path):
    config = write(tmp_path / "typo.toml", "prot = 9000\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"config": str(config)}, env={})
    assert "'prot'" in str(excinfo.value)


def test_settings_are_frozen():
    settings = load_settings({}, env={})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("priority", "spare_core", "idle"),
    [
        ("auto", True, True),
        ("auto", False, False),
        ("idle", False, True),
        ("normal", True, False),
    ],
)
def test_ecdsa_thread_priority_auto_is_idle_only_while_a_core_is_spare(priority, spare_core, idle):
    cores = usable_cores()
    workers = cores - 1 if spare_core else cores
    if workers < 1:
        pytest.skip("one usable core: no worker count leaves one spare")
    settings = load_settings({"workers": workers, "ecdsa_thread_priority": priority}, env={})
    assert idle_ecdsa_thread(settings) is idle
