"""Settings: every key, the layer precedence, units, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml
from click.testing import CliRunner

from rivetq.cli.rivetqd import main as rivetqd
from rivetq.errors import InvalidArgument
from rivetq.server.app import build_storage
from rivetq.server.metrics import Metrics
from rivetq.settings import Settings, env_name, is_loopback_host, load_settings, parse_addr
from rivetq.storage.local import LocalStorage
from tests.e2e.server import self_signed_certificate

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


def _error(**kwargs: object) -> str:
    with pytest.raises(InvalidArgument) as caught:
        load_settings(**kwargs)  # type: ignore[arg-type]
    return caught.value.message


def test_settings_defaults_match_the_documented_table() -> None:
    settings = load_settings(env={})
    assert (settings.server.http_addr, settings.server.grpc_addr) == (":8080", ":9090")
    assert (settings.server.cors_allow_origins, settings.server.debug_endpoints) == ((), False)
    assert (settings.storage.backend, settings.storage.data_dir, settings.storage.dsn) == ("local", "./data", "")
    assert (settings.wal.segment_size, settings.wal.fsync) == (67_108_864, True)
    assert (settings.queue.shards, settings.queue.lease_check_interval_ms) == (4, 1_000)
    assert settings.queue.dedup_window_ms == 86_400_000
    assert settings.limits.max_payload_bytes == 1_048_576
    assert (settings.auth.tokens, settings.auth.protected_mode) == ((), True)
    assert (settings.logging.level, settings.logging.format) == ("info", "console")


def test_the_sample_config_yaml_holds_every_default() -> None:
    assert load_settings(config_path=REPO_CONFIG, env={}) == Settings()
    document = yaml.safe_load(REPO_CONFIG.read_text())
    listed = {f"{section}.{key}" for section, keys in document.items() for key in keys}
    every = {f"{section.encode_name}.{key.encode_name}" for section in msgspec.structs.fields(Settings)
             for key in msgspec.structs.fields(section.type)}  # fmt: skip
    assert every - listed == set()


def test_flags_beat_env_beat_file_beat_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "storage:\n  data_dir: /file\n  backend: memory\nwal:\n  fsync: false\nlogging:\n  level: debug\n"
    )
    env = {"RIVETQ_STORAGE_DATA_DIR": "/env", "RIVETQ_WAL_FSYNC": "true"}
    settings = load_settings(config_path=config, env=env, overrides={"storage.data_dir": "/flag", "wal.fsync": None})
    assert settings.storage.data_dir == "/flag"
    assert settings.wal.fsync is True  # env beat the file; the unset flag fell through
    assert settings.storage.backend == "memory"  # the file beat the default
    assert settings.logging.level == "debug"
    assert settings.logging.format == "console"  # the default


def test_env_names_are_the_key_path_in_capitals() -> None:
    assert env_name("server.cors_allow_origins") == "RIVETQ_SERVER_CORS_ALLOW_ORIGINS"
    assert env_name("queue.lease_check_interval") == "RIVETQ_QUEUE_LEASE_CHECK_INTERVAL"


def test_env_lists_are_comma_separated() -> None:
    settings = load_settings(env={"RIVETQ_AUTH_TOKENS": "tok1, tok2,", "RIVETQ_SERVER_CORS_ALLOW_ORIGINS": "https://a"})
    assert settings.auth.tokens == ("tok1", "tok2")
    assert settings.server.cors_allow_origins == ("https://a",)


def test_unknown_rivetq_env_variables_are_other_tools_and_ignored() -> None:
    assert load_settings(env={"RIVETQ_URL": "http://x", "RIVETQ_TOKEN": "t"}) == Settings()


@pytest.mark.parametrize(
    ("text", "ms"),
    [("250ms", 250), ("1s", 1_000), ("1.5s", 1_500), ("5m", 300_000), ("24h", 86_400_000), ("1h30m", 5_400_000),
     ("2d", 172_800_000), ("750", 750)],
)  # fmt: skip
def test_durations_accept_units(text: str, ms: int) -> None:
    assert load_settings(env={"RIVETQ_QUEUE_DEDUP_WINDOW": text}).queue.dedup_window_ms == ms


def test_durations_accept_a_bare_number_of_milliseconds_from_yaml(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("queue:\n  lease_check_interval: 200\n")
    assert load_settings(config_path=config, env={}).queue.lease_check_interval_ms == 200


@pytest.mark.parametrize(
    ("text", "size"),
    [("65536", 65_536), ("64KiB", 65_536), ("64MiB", 67_108_864), ("1MB", 1_000_000), ("512k", 524_288),
     ("1GiB", 1_073_741_824)],
)  # fmt: skip
def test_sizes_accept_units(text: str, size: int) -> None:
    assert load_settings(env={"RIVETQ_WAL_SEGMENT_SIZE": text}).wal.segment_size == size


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RIVETQ_WAL_FSYNC": "maybe"}, "config: wal.fsync: expected a boolean, got 'maybe'"),
        ({"RIVETQ_QUEUE_SHARDS": "many"}, "config: queue.shards: expected an integer, got 'many'"),
        ({"RIVETQ_QUEUE_SHARDS": "0"}, "config: queue.shards: expected an integer >= 1, got '0'"),
        ({"RIVETQ_STORAGE_ORDER_WINDOW": "0"}, "config: storage.order_window: expected an integer >= 1, got '0'"),
        ({"RIVETQ_WAL_SEGMENT_SIZE": "100"}, "config: wal.segment_size: expected an integer >= 4096, got 100"),
        ({"RIVETQ_STORAGE_BACKEND": "redis"},
         "config: storage.backend: expected one of 'local', 'memory', 'postgres', got 'redis'"),
        ({"RIVETQ_LOGGING_FORMAT": "xml"}, "config: logging.format: expected one of 'console', 'json', got 'xml'"),
        ({"RIVETQ_QUEUE_DEDUP_WINDOW": "soon"},
         "config: queue.dedup_window: expected a duration such as '250ms', '1s' or '24h', got 'soon'"),
        ({"RIVETQ_WAL_SEGMENT_SIZE": "big"},
         "config: wal.segment_size: expected a size such as 65536, '64KiB' or '64MiB', got 'big'"),
        ({"RIVETQ_SERVER_HTTP_ADDR": "localhost"}, "config: server.http_addr: expected host:port, got 'localhost'"),
        ({"RIVETQ_SERVER_GRPC_ADDR": "x:99999"}, "config: server.grpc_addr: expected host:port, got 'x:99999'"),
        ({"RIVETQ_SERVER_TLS_CERT_FILE": "c.pem"},
         "config: server.tls_cert_file: TLS needs both server.tls_cert_file and server.tls_key_file"),
    ],
)  # fmt: skip
def test_a_bad_value_is_an_error_naming_the_key_and_its_variable(env: dict[str, str], message: str) -> None:
    [variable] = env
    assert _error(env=env) == f"{message} (from {variable})"


def test_an_error_about_a_key_no_variable_set_names_no_variable() -> None:
    assert _error(env={"RIVETQ_STORAGE_BACKEND": "postgres"}) == "config: storage.dsn: the postgres backend needs a DSN"


@pytest.mark.parametrize(
    "dsn", ["postgresql://rivetq:s3cretXYZ@[::1:5432/rivetq", "postgresql://rivetq:s3cretXYZ@db/q?foo=1", "s3cretXYZ"]
)
def test_a_malformed_dsn_is_an_error_naming_the_key_but_never_the_password(dsn: str) -> None:
    message = _error(env={"RIVETQ_STORAGE_BACKEND": "postgres", "RIVETQ_STORAGE_DSN": dsn})
    assert message.startswith("config: storage.dsn: not a PostgreSQL connection string")
    assert "s3cretXYZ" not in message


@pytest.mark.parametrize("tokens", ['[""]', '["ok", "  "]'])
def test_a_blank_token_in_the_file_is_refused(tmp_path: Path, tokens: str) -> None:
    """It would match "Authorization: Bearer " and let anyone in."""
    config = tmp_path / "config.yaml"
    config.write_text(f"auth:\n  tokens: {tokens}\n")
    assert _error(config_path=config, env={}) == "config: auth.tokens: a token must not be empty or blank"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("auth:\n  tokens: SUPERSECRET1\n", "auth.tokens"),
        ("storage:\n  dsn: {password: SUPERSECRET1}\n", "storage.dsn"),
    ],
)
def test_a_secret_of_the_wrong_type_is_named_but_never_shown(tmp_path: Path, text: str, key: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    message = _error(config_path=config, env={})
    assert message.startswith(f"config: {key}: expected ") and "SUPERSECRET1" not in message


def test_a_bad_yaml_value_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("wal:\n  fsync: sometimes\n")
    assert _error(config_path=config, env={}) == "config: wal.fsync: expected a boolean, got 'sometimes'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wal:\n  fsinc: true\n", "config: wal.fsinc: unknown key (did you mean wal.fsync?)"),
        ("wall:\n  fsync: true\n", "config: wall: unknown key (did you mean wal?)"),
        ("wal:\n  colour: true\n", "config: wal.colour: unknown key"),
        ("wal: [1, 2]\n", "config: wal: expected a mapping, got [1, 2]"),
        ("auth:\n  tokens: abc\n", "config: auth.tokens: expected a list, got a secret value (not shown)"),
    ],
)
def test_a_misshapen_yaml_file_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    assert _error(config_path=config, env={}) == message


def test_the_fsync_flag_takes_the_config_files_boolean_words_and_lists_them_when_refused() -> None:
    refused = CliRunner().invoke(rivetqd, ["--fsync=maybe"])
    assert refused.exit_code == 2
    assert "'--fsync': expected true/false, yes/no, on/off or 1/0, got 'maybe'" in refused.stderr
    contradicted = CliRunner().invoke(rivetqd, ["--fsync", "on", "--no-fsync"])  # "on" is true
    assert (contradicted.exit_code, contradicted.stderr.splitlines()[-1]) == (
        2,
        "Error: --fsync and --no-fsync contradict each other",
    )


def test_a_yaml_file_that_is_not_a_mapping_or_not_yaml_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("- a\n- b\n")
    assert "must hold a mapping of sections" in _error(config_path=config, env={})
    config.write_text("wal: {fsync: [\n")
    assert "is not valid YAML" in _error(config_path=config, env={})


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    assert _error(config_path=tmp_path / "absent.yaml", env={}).startswith("config: cannot read")


def test_an_empty_config_file_means_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("")
    assert load_settings(config_path=config, env={}) == Settings()


def test_tokens_never_appear_in_the_settings_repr() -> None:
    settings = load_settings(env={"RIVETQ_AUTH_TOKENS": "very-secret"})
    assert "very-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("addr", "host_port"),
    [(":8080", ("0.0.0.0", 8080)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:9090", ("::1", 9090))],
)
def test_parse_addr(addr: str, host_port: tuple[str, int]) -> None:
    assert parse_addr(addr) == host_port


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("::ffff:127.0.0.1", True), ("localhost", True),
     ("0.0.0.0", False), ("10.1.2.3", False), ("example.com", False), ("", False)],
)  # fmt: skip
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_tls_files_that_cannot_be_loaded_are_an_error_naming_the_key(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    missing = str(tmp_path / "missing.pem")
    tls = {"RIVETQ_SERVER_TLS_CERT_FILE": str(cert), "RIVETQ_SERVER_TLS_KEY_FILE": str(key)}
    assert load_settings(env=tls).server.tls_cert_file == str(cert)
    assert _error(env={**tls, "RIVETQ_SERVER_TLS_KEY_FILE": missing}) == (
        f"config: server.tls_key_file: cannot read {missing} (from RIVETQ_SERVER_TLS_KEY_FILE)"
    )
    assert _error(env={**tls, "RIVETQ_SERVER_TLS_CERT_FILE": missing}) == (
        f"config: server.tls_cert_file: cannot read {missing} (from RIVETQ_SERVER_TLS_CERT_FILE)"
    )
    swapped = _error(env={"RIVETQ_SERVER_TLS_CERT_FILE": str(key), "RIVETQ_SERVER_TLS_KEY_FILE": str(cert)})
    assert swapped.startswith(f"config: server.tls_cert_file: {key} and {cert} are not a PEM certificate and its key")


@pytest.mark.parametrize(("word", "value"), [("no", False), ("OFF", False), ("0", False), ("yes", True), ("On", True)])
def test_booleans_take_the_same_words_from_env_and_file_as_the_flag(tmp_path: Path, word: str, value: bool) -> None:
    assert load_settings(env={"RIVETQ_WAL_FSYNC": word}).wal.fsync is value
    config = tmp_path / "config.yaml"
    config.write_text(f'wal:\n  fsync: "{word}"\nlogging:\n  access_log: "{word}"\n')
    settings = load_settings(config_path=config, env={})
    assert (settings.wal.fsync, settings.logging.access_log) == (value, value)


def test_an_empty_list_variable_does_not_clear_the_files_tokens(tmp_path: Path) -> None:
    """As a container's ``RIVETQ_AUTH_TOKENS=${TOKENS}`` with TOKENS unset would: auth off."""
    config = tmp_path / "config.yaml"
    config.write_text("auth:\n  tokens: [from-file]\n")
    assert load_settings(config_path=config, env={"RIVETQ_AUTH_TOKENS": ""}).auth.tokens == ("from-file",)
    assert load_settings(config_path=config, env={"RIVETQ_AUTH_TOKENS": "a,b"}).auth.tokens == ("a", "b")


def test_the_order_window_reaches_the_embedded_engine(tmp_path: Path) -> None:
    env = {"RIVETQ_STORAGE_ORDER_WINDOW": "7", "RIVETQ_STORAGE_DATA_DIR": str(tmp_path)}
    storage = build_storage(load_settings(env=env), Metrics())
    assert isinstance(storage, LocalStorage)
    assert storage._core.options.order_window == 7
