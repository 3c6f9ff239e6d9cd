"""Typed server settings: defaults < config.yaml < ``RIVETQ_*`` environment < flags.

Every key is a field here; the docs site's configuration reference is generated from them. Durations accept
``"250ms"``, ``"1s"``, ``"1h30m"``, ``"2d"`` or a bare number of milliseconds; sizes accept
``"64MiB"``, ``"1MB"`` or a bare number of bytes. A bad value raises ``InvalidArgument``
whose message names the key: ``config: wal.fsync: expected a boolean, got 'maybe'``.

Environment names are ``RIVETQ_`` + the key path in capitals with ``_`` for the dot
(``RIVETQ_WAL_FSYNC=false``); list keys take comma-separated values
(``RIVETQ_AUTH_TOKENS=tok1,tok2``).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import ssl
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from rivetq.errors import InvalidArgument

__all__ = [
    "AuthSettings",
    "BackupSettings",
    "LimitsSettings",
    "LoggingSettings",
    "QueueSettings",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "WalSettings",
    "describe_fields",
    "effective_workers",
    "env_name",
    "is_loopback_host",
    "load_settings",
    "parse_addr",
    "unknown_env_names",
]

Origins = tuple[str, ...]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


# Every section forbids unknown keys, so a typo is an error, never a silent default.
class ServerSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    http_addr: str = ":8080"
    grpc_addr: str = ":9090"
    tls_cert_file: str = ""
    tls_key_file: str = ""
    cors_allow_origins: Origins = ()
    debug_endpoints: bool = False
    # Slow clients: time to send a request's headers (also after connecting), then its
    # body; idle time between requests on a kept-alive connection; open connections.
    read_header_timeout_ms: PositiveInt = msgspec.field(default=10_000, name="read_header_timeout")
    read_body_timeout_ms: PositiveInt = msgspec.field(default=60_000, name="read_body_timeout")
    keep_alive_timeout_ms: PositiveInt = msgspec.field(default=5_000, name="keep_alive_timeout")
    max_connections: PositiveInt = 10_000
    # Processes serving HTTP and gRPC; 0: one per core from 4 cores up, else 1. With more than one, a supervisor
    # runs one storage owner and this many front processes (docs/architecture.md).
    workers: Annotated[int, msgspec.Meta(ge=0)] = 0


class StorageSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    backend: Literal["local", "memory", "postgres"] = "local"
    data_dir: str = "./data"
    dsn: str = ""
    auto_migrate: bool = True
    order_window: PositiveInt = 256  # local: order keys read ahead per queue and priority (docs/architecture.md)


class WalSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    segment_size: Annotated[int, msgspec.Meta(ge=4096)] = 67_108_864
    fsync: bool = True
    accept_loss: bool = False  # start from a log missing segments (rivetqd --accept-wal-loss, once)
    space_reserve: Annotated[int, msgspec.Meta(ge=0)] = 0  # disk-space alarm threshold and reserve; 0: 2 segments


class BackupSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str = ""  # a directory or s3://bucket/prefix to ship the WAL to; "": no shipping
    endpoint: str = ""  # an S3-compatible store's URL (MinIO, Ceph...); "": AWS
    region: str = ""
    interval_ms: PositiveInt = msgspec.field(default=1_000, name="interval")
    ship_bytes: PositiveInt = 8 << 20
    snapshot_interval_ms: PositiveInt = msgspec.field(default=3_600_000, name="snapshot_interval")
    retention_ms: PositiveInt = msgspec.field(default=7 * 86_400_000, name="retention")
    max_unshipped: PositiveInt = 1 << 30


class QueueSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    shards: PositiveInt = 4
    lease_check_interval_ms: PositiveInt = msgspec.field(default=1_000, name="lease_check_interval")
    dedup_window_ms: Annotated[int, msgspec.Meta(ge=0)] = msgspec.field(default=86_400_000, name="dedup_window")


class LimitsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_payload_bytes: PositiveInt = 1_048_576
    max_request_bytes: PositiveInt = 16_777_216  # a whole request body, e.g. a batch enqueue


class AuthSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tokens: tuple[str, ...] = ()
    protected_mode: bool = True

    def __repr__(self) -> str:  # tokens must never reach a log line or a traceback
        return f"AuthSettings(tokens=<{len(self.tokens)} redacted>, protected_mode={self.protected_mode})"


class LoggingSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"
    access_log: bool = False  # one info line per HTTP request and gRPC call


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    wal: WalSettings = msgspec.field(default_factory=WalSettings)
    backup: BackupSettings = msgspec.field(default_factory=BackupSettings)
    queue: QueueSettings = msgspec.field(default_factory=QueueSettings)
    limits: LimitsSettings = msgspec.field(default_factory=LimitsSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)


Layer = dict[str, Any]

_DURATION_KEYS = (
    "server.read_header_timeout",
    "server.read_body_timeout",
    "server.keep_alive_timeout",
    "queue.lease_check_interval",
    "queue.dedup_window",
    "backup.interval",
    "backup.snapshot_interval",
    "backup.retention",
)
_SIZE_KEYS = (
    "wal.segment_size",
    "wal.space_reserve",
    "backup.ship_bytes",
    "backup.max_unshipped",
    "limits.max_payload_bytes",
    "limits.max_request_bytes",
)
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
_DURATION_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2}
_SIZE_UNITS |= {"g": 1024**3, "gb": 1000**3, "gib": 1024**3}
_TYPE_WORDS = {
    "`bool`": "a boolean",
    "`int`": "an integer",
    "`float`": "a number",
    "`str`": "a string",
    "`array`": "a list",
    "`object`": "a mapping",
}


def load_settings(
    *,
    config_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Merge the layers and validate them into one ``Settings``.

    ``config_path`` names a YAML file that must exist (None: no file). ``env`` defaults to
    ``os.environ``. ``overrides`` maps dotted keys to flag values (``{"wal.fsync": False}``);
    None values are ignored, so unset flags fall through.

    An error about a key the environment or a flag set says so: ``config: wal.fsync:
    expected a boolean, got 'maybe' (from RIVETQ_WAL_FSYNC)``."""
    env_values = _env_values(os.environ if env is None else env)
    flag_values = {key: value for key, value in (overrides or {}).items() if value is not None}
    merged: Layer = {}
    if config_path is not None:
        _merge(merged, _read_yaml(Path(config_path)))
    _merge(merged, _dotted_layer(env_values))
    _merge(merged, _dotted_layer(flag_values))
    origins = {key: env_name(key) for key in env_values} | dict.fromkeys(flag_values, _FLAG_ORIGIN)
    try:
        return _validate(merged)
    except InvalidArgument as error:
        raise _with_origin(error, origins) from None


def env_name(key: str) -> str:
    """The environment variable of a dotted key: ``wal.fsync`` → ``RIVETQ_WAL_FSYNC``."""
    return "RIVETQ_" + key.replace(".", "_").upper()


def env_layer(env: Mapping[str, str]) -> Layer:
    """The settings that ``RIVETQ_*`` variables set (other ``RIVETQ_*`` names set nothing;
    rivetqd warns about them at startup, see ``unknown_env_names``). An empty list
    variable counts as unset: ``RIVETQ_AUTH_TOKENS=${TOKENS}`` with ``TOKENS`` unset must
    not switch off the tokens the file sets."""
    return _dotted_layer(_env_values(env))


def _env_values(env: Mapping[str, str]) -> dict[str, object]:
    """The dotted keys that ``RIVETQ_*`` variables set, with their values (see ``env_layer``)."""
    values: dict[str, object] = {}
    for key, is_list in _keys():
        raw = env.get(env_name(key))
        if raw is None:
            continue
        if not is_list:
            values[key] = raw
        elif items := [item.strip() for item in raw.split(",") if item.strip()]:
            values[key] = items
    return values


# RIVETQ_* variables that are not settings but rivetqd's --config and the clients' options.
_OTHER_VARIABLES = frozenset({"RIVETQ_CONFIG", "RIVETQ_URL", "RIVETQ_TOKEN"})


def unknown_env_names(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """``RIVETQ_*`` variables that set nothing, each with the setting's variable it most
    resembles (if any): ``RIVETQ_WAL_FSINC=false`` is ignored, which its author must hear."""
    known = [env_name(key) for key, _ in _keys()]
    used = {*known, *_OTHER_VARIABLES}
    unknown = sorted(name for name in env if name.startswith("RIVETQ_") and name not in used)
    return [(name, next(iter(difflib.get_close_matches(name, known, n=1, cutoff=0.8)), None)) for name in unknown]


def parse_addr(value: str) -> tuple[str, int]:
    """``"host:port"``, ``":port"`` (every interface) or ``"[v6]:port"`` → (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65_535:
        raise ValueError(f"expected host:port, got {value!r}")
    host = host.removeprefix("[").removesuffix("]")
    return host or "0.0.0.0", int(port_text)


MULTI_PROCESS_FROM_CORES = 4


def effective_workers(settings: Settings) -> int:
    """``server.workers``; 0 means one per core from 4 cores up, else one process. The
    owner and the fronts cost ~45 % more CPU per call together than one process does
    (docs/benchmarks.md): on 2 cores, shared with clients, one process serves more."""
    cores = len(os.sched_getaffinity(0))
    return settings.server.workers or (cores if cores >= MULTI_PROCESS_FROM_CORES else 1)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (also as IPv4-mapped IPv6)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def _keys() -> list[tuple[str, bool]]:
    """Every dotted key with whether it holds a list."""
    return [(key, typing.get_origin(kind) in (list, tuple)) for key, kind in _fields()]


def _fields() -> Iterator[tuple[str, Any]]:
    """Every dotted key with its type."""
    for key, kind, _, _ in describe_fields():
        yield key, kind


def _read_yaml(path: Path) -> Layer:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidArgument(f"config: cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise InvalidArgument(f"config: {path} is not valid YAML: {_yaml_problem(error)}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidArgument(f"config: {path} must hold a mapping of sections, got {type(document).__name__}")
    # A section with every key commented out (``storage:`` alone) is YAML's null: no keys.
    return {section: {} if values is None else values for section, values in document.items()}


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's problem and where it is, without the quoted line its message carries: that
    line may hold a token (``tokens: [tok1, "tok2``)."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return type(error).__name__
    problem = f"{error.problem or 'unexpected text'} at {_yaml_place(error.problem_mark)}"
    if error.context and error.context_mark:
        return f"{problem} ({error.context} at {_yaml_place(error.context_mark)})"
    return problem


def _yaml_place(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _dotted_layer(values: Mapping[str, object]) -> Layer:
    layer: Layer = {}
    for key, value in values.items():
        section, _, name = key.partition(".")
        layer.setdefault(section, {})[name] = value
    return layer


def _merge(base: Layer, layer: Layer) -> None:
    """Lay ``layer``'s sections over ``base``'s. A section of ``base`` that is not a mapping
    (``storage: memory`` in the file) stays as it is, so that validation reports it whatever
    the environment and the flags set in that section."""
    for section, values in layer.items():
        if section not in base:
            base[section] = dict(values) if isinstance(values, dict) else values
        elif isinstance(base[section], dict) and isinstance(values, dict):
            base[section].update(values)


def _validate(merged: Layer) -> Settings:
    _normalise_units(merged)
    try:
        settings = msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise _config_error(error, merged) from None
    _check(settings)
    return settings


_FLAG_ORIGIN = "a command-line flag"


def _with_origin(error: InvalidArgument, origins: Mapping[str, str]) -> InvalidArgument:
    """``error`` naming the variable or flag that set its key, if one did (the file otherwise)."""
    origin = origins.get((error.field or "").partition("[")[0])
    if origin is None:
        return error
    return InvalidArgument(f"{error.message} (from {origin})", field=error.field)


def _normalise_units(merged: Layer) -> None:
    """Durations and sizes in words become numbers; booleans in words (``yes``, ``off``:
    the words the ``--fsync`` flag and YAML take) become booleans, wherever they were set."""
    bool_keys = tuple(key for key, kind in _fields() if kind is bool)
    units = ((_DURATION_KEYS, parse_duration_ms), (_SIZE_KEYS, parse_size_bytes), (bool_keys, parse_bool))
    for keys, parse in units:
        for key in keys:
            section, _, name = key.partition(".")
            values = merged.get(section)
            if isinstance(values, dict) and isinstance(values.get(name), str):
                try:
                    values[name] = parse(values[name])
                except ValueError as error:
                    raise InvalidArgument(f"config: {key}: {error}", field=key) from None


def parse_bool(text: str) -> bool:
    """``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0`` (any case)."""
    word = text.strip().lower()
    if word not in _BOOL_WORDS:
        raise ValueError(f"expected a boolean, got {text!r}")
    return _BOOL_WORDS[word]


def parse_duration_ms(text: str) -> int:
    """``"250ms"``, ``"1s"``, ``"1h30m"``, ``"1.5s"`` or ``"1000"`` (milliseconds) → ms."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"expected a duration such as '250ms', '1s' or '24h', got {text!r}")
    return round(sum(float(number) * _DURATION_UNITS_MS[unit] for number, unit in parts))


def parse_size_bytes(text: str) -> int:
    """``"64MiB"``, ``"1MB"``, ``"512k"`` or ``"4096"`` → bytes (KiB/MiB/GiB and bare K/M/G
    are powers of 1024; KB/MB/GB powers of 1000)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected a size such as 65536, '64KiB' or '64MiB', got {text!r}")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[(unit or "").lower()])


_SECRET_KEYS = ("auth.tokens", "storage.dsn")


def _config_error(error: msgspec.ValidationError, merged: Layer) -> InvalidArgument:
    """Rewrite msgspec's ``Expected `bool`, got `str` - at `$.wal.fsync``` as
    ``config: wal.fsync: expected a boolean, got 'maybe'``."""
    what, _, path = str(error).partition(" - at `$")
    path = path.rstrip("`").lstrip(".")
    unknown = re.fullmatch(r"Object contains unknown field `(.*)`", what)
    if unknown:
        key = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        return InvalidArgument(f"config: {key}: unknown key{_did_you_mean(key)}", field=key)
    got = "a secret value (not shown)" if _may_hold_a_secret(path) else repr(_value_at(merged, path))
    if what.startswith("Invalid enum value"):
        what = "expected one of " + ", ".join(repr(choice) for choice in _choices(path))
    for word, phrase in _TYPE_WORDS.items():
        what = what.replace(f"Expected {word}", f"expected {phrase}", 1)
    what = re.sub(r", got `\w+`$", "", what)
    return InvalidArgument(f"config: {path}: {what}, got {got}", field=path)


def _may_hold_a_secret(path: str) -> bool:
    """True for a secret key (or an item of one) and for a section that holds one: a scalar
    ``auth:`` or ``storage:`` may well be the token or the DSN put one level too high."""
    return path.startswith(_SECRET_KEYS) or any(key.startswith(f"{path}.") for key in _SECRET_KEYS)


def _did_you_mean(key: str) -> str:
    """`` (did you mean storage.data_dir?)`` for ``server.data_dir`` or a top-level
    ``data_dir`` (a key put in the wrong place), else `` (did you mean wal.fsync?)`` for
    ``wal.fsinc`` (a typo), as rivetqd says of unknown env variables."""
    keys = [name for name, _ in _keys()]
    name = key.rpartition(".")[2]
    misplaced = [known for known in keys if known.rpartition(".")[2] == name]
    known = keys if "." in key else [f.encode_name for f in msgspec.structs.fields(Settings)]
    suggestions = misplaced or difflib.get_close_matches(key, known, n=1, cutoff=0.8)
    return f" (did you mean {' or '.join(suggestions)}?)" if suggestions else ""


def _choices(path: str) -> tuple[object, ...]:
    section, _, name = path.partition(".")
    for section_field in msgspec.structs.fields(Settings):
        if section_field.encode_name == section:
            for field in msgspec.structs.fields(typing.cast(type[msgspec.Struct], section_field.type)):
                if field.encode_name == name:
                    return typing.get_args(field.type)
    return ()


def _value_at(merged: Layer, path: str) -> object:
    value: object = merged
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _check_tls_files(cert_file: str, key_file: str) -> None:
    """Load the pair now, so that a missing, unreadable or mismatched file stops startup
    as a configuration error naming the key, not as a traceback once serving began."""
    for key, path in (("server.tls_cert_file", cert_file), ("server.tls_key_file", key_file)):
        if not os.access(path, os.R_OK) or not Path(path).is_file():
            raise InvalidArgument(f"config: {key}: cannot read {path}", field=key)
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as error:
        raise InvalidArgument(
            f"config: server.tls_cert_file: {cert_file} and {key_file} are not a PEM certificate and its key: {error}",
            field="server.tls_cert_file",
        ) from None


def _check_dsn(dsn: str) -> None:
    if not dsn:
        raise InvalidArgument("config: storage.dsn: the postgres backend needs a DSN", field="storage.dsn")
    import psycopg.conninfo  # the postgres backend's driver: only when it is chosen

    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # psycopg's message quotes the DSN, password and all.
        raise InvalidArgument(
            "config: storage.dsn: not a PostgreSQL connection string "
            "(postgresql://user:password@host:port/dbname, or key=value pairs such as host=db dbname=rivetq)",
            field="storage.dsn",
        ) from None


def _check_backup(settings: Settings) -> None:
    if settings.storage.backend != "local":
        raise InvalidArgument(
            "config: backup.url: WAL shipping is the embedded engine's (storage.backend: local); "
            "back PostgreSQL up with pg_dump or its own point-in-time recovery",
            field="backup.url",
        )
    from rivetq.backup.target import overlap_with, parse_url

    location = parse_url(settings.backup.url, field="backup.url")
    data_dir = Path(settings.storage.data_dir).absolute()
    if not location.bucket and (relation := overlap_with(Path(location.path).absolute(), data_dir)):
        raise InvalidArgument(
            f"config: backup.url: {location.path} {relation} storage.data_dir ({data_dir}): "
            "ship the log to a directory apart from the data it protects",
            field="backup.url",
        )


def _check(settings: Settings) -> None:
    """Rules that span keys or need parsing beyond a type."""
    server = settings.server
    for key, value in (("server.http_addr", server.http_addr), ("server.grpc_addr", server.grpc_addr)):
        if value or key == "server.http_addr":
            try:
                parse_addr(value)
            except ValueError as error:
                raise InvalidArgument(f"config: {key}: {error}", field=key) from None
    if bool(server.tls_cert_file) != bool(server.tls_key_file):
        raise InvalidArgument(
            "config: server.tls_cert_file: TLS needs both server.tls_cert_file and server.tls_key_file",
            field="server.tls_cert_file",
        )
    if server.tls_cert_file:
        _check_tls_files(server.tls_cert_file, server.tls_key_file)
    if settings.storage.backend == "postgres":
        _check_dsn(settings.storage.dsn)
    if settings.backup.url:
        _check_backup(settings)
    if any(not token.strip() for token in settings.auth.tokens):
        # An empty token would match "Authorization: Bearer " and let anyone in.
        raise InvalidArgument("config: auth.tokens: a token must not be empty or blank", field="auth.tokens")


def describe_fields() -> Iterator[tuple[str, Any, object, str]]:
    """Every dotted key with its type, its default and its unit (``duration`` in ms,
    ``size`` in bytes, or ``""``): what the configuration reference is made from."""
    for section in msgspec.structs.fields(Settings):
        section_type = typing.cast(type[msgspec.Struct], section.type)
        for field in msgspec.structs.fields(section_type):
            key = f"{section.encode_name}.{field.encode_name}"
            default = field.default_factory() if field.default is msgspec.NODEFAULT else field.default
            unit = "duration" if key in _DURATION_KEYS else "size" if key in _SIZE_KEYS else ""
            yield key, field.type, default, unit
