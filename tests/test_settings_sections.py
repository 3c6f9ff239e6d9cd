"""Config errors a newcomer meets: a malformed section, a secret one level too high, a key
in the wrong section, a bad value from the environment or a flag, and ``rivetqd`` without
the ``server`` extra. Through the real settings loader and real ``rivetqd`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from rivetq.errors import InvalidArgument
from rivetq.settings import load_settings
from tests.e2e.server import rivetqd_path

NOT_SHOWN = "got a secret value (not shown)"
STORAGE_NOT_SHOWN = f"config: storage: expected a mapping, {NOT_SHOWN}"
AUTH_NOT_SHOWN = f"config: auth: expected a mapping, {NOT_SHOWN}"


def _error(
    config: str | None = None,
    *,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> str:
    """The loader's message for ``config`` (a config.yaml's text), ``env`` and ``overrides`` (flags)."""
    config_path = None
    if config is not None:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(config)
    with pytest.raises(InvalidArgument) as caught:
        load_settings(config_path=config_path, env=env or {}, overrides=overrides)
    return caught.value.message


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``args`` in ``cwd`` with no RIVETQ_* variable but ``env``; a server that starts
    instead of refusing its config is killed (by its own pid) when the timeout ends."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("RIVETQ_")}
    return subprocess.run(
        args, cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=20, check=False
    )


@pytest.mark.parametrize(
    ("config", "env", "overrides", "message"),
    [
        ("storage: memory\n", {"RIVETQ_STORAGE_DATA_DIR": "d"}, {}, STORAGE_NOT_SHOWN),
        ("storage: memory\n", {}, {"storage.data_dir": "d"}, STORAGE_NOT_SHOWN),
        ("server: 8080\n", {}, {"server.http_addr": "127.0.0.1:0"}, "config: server: expected a mapping, got 8080"),
        ("server: []\n", {"RIVETQ_SERVER_HTTP_ADDR": "127.0.0.1:0"}, {}, "config: server: expected a mapping, got []"),
        ("wal: [1, 2]\n", {"RIVETQ_WAL_FSYNC": "no"}, {"wal.fsync": True},
         "config: wal: expected a mapping, got [1, 2]"),
    ],
)  # fmt: skip
def test_a_malformed_section_is_reported_whatever_the_env_and_flags_set_in_it(
    tmp_path: Path, config: str, env: dict[str, str], overrides: dict[str, object], message: str
) -> None:
    assert _error(config, tmp_path=tmp_path) == message
    assert _error(config, tmp_path=tmp_path, env=env, overrides=overrides) == message


def test_a_section_with_every_key_commented_out_is_empty(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  # data_dir: ./data\nwal:\n")
    assert load_settings(config_path=config, env={}) == load_settings(env={})
    settings = load_settings(config_path=config, env={"RIVETQ_STORAGE_DATA_DIR": "d"})
    assert settings.storage.data_dir == "d"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("auth: hunter2-secret\n", AUTH_NOT_SHOWN),
        ("auth: [hunter2-secret]\n", AUTH_NOT_SHOWN),
        ("storage: postgresql://rivetq:hunter2-secret@db/rivetq\n", STORAGE_NOT_SHOWN),
        ("auth:\n  tokens: hunter2-secret\n", f"config: auth.tokens: expected a list, {NOT_SHOWN}"),
    ],
)  # fmt: skip
def test_a_section_that_holds_a_secret_is_never_shown(tmp_path: Path, config: str, message: str) -> None:
    assert _error(config, tmp_path=tmp_path) == message


def test_a_yaml_syntax_error_does_not_quote_the_line_that_may_hold_a_token(tmp_path: Path) -> None:
    message = _error('auth:\n  tokens: [hunter2-secret, "tok\n', tmp_path=tmp_path)
    assert "hunter2-secret" not in message
    assert message.endswith(
        "is not valid YAML: found unexpected end of stream at line 3, column 1 "
        "(while scanning a quoted scalar at line 2, column 28)"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("server:\n  data_dir: x\n", "config: server.data_dir: unknown key (did you mean storage.data_dir?)"),
        ("logging:\n  fsync: true\n", "config: logging.fsync: unknown key (did you mean wal.fsync?)"),
        ("http_addr: 127.0.0.1:8080\n", "config: http_addr: unknown key (did you mean server.http_addr?)"),
        ("data_dir: x\n", "config: data_dir: unknown key (did you mean storage.data_dir?)"),
        ("wal:\n  fsinc: true\n", "config: wal.fsinc: unknown key (did you mean wal.fsync?)"),
        ("wall:\n  fsync: true\n", "config: wall: unknown key (did you mean wal?)"),
        ("colour: red\n", "config: colour: unknown key"),
    ],
)
def test_a_key_in_the_wrong_section_suggests_the_right_one(tmp_path: Path, config: str, message: str) -> None:
    assert _error(config, tmp_path=tmp_path) == message


def test_a_bad_value_names_the_variable_or_the_flag_that_set_it(tmp_path: Path) -> None:
    file_value = "wal:\n  fsync: sometimes\n"
    assert _error(file_value, tmp_path=tmp_path) == "config: wal.fsync: expected a boolean, got 'sometimes'"
    assert _error(file_value, tmp_path=tmp_path, env={"RIVETQ_WAL_FSYNC": "maybe"}) == (
        "config: wal.fsync: expected a boolean, got 'maybe' (from RIVETQ_WAL_FSYNC)"
    )
    levels = "expected one of 'debug', 'info', 'warning', 'error'"
    from_flag = _error(tmp_path=tmp_path, env={"RIVETQ_LOGGING_LEVEL": "loud"}, overrides={"logging.level": "louder"})
    assert from_flag == f"config: logging.level: {levels}, got 'louder' (from a command-line flag)"


def test_a_bad_secret_from_the_environment_names_the_variable_not_the_value(tmp_path: Path) -> None:
    env = {"RIVETQ_STORAGE_BACKEND": "postgres", "RIVETQ_STORAGE_DSN": "hunter2-secret"}
    message = _error(tmp_path=tmp_path, env=env)
    assert message.startswith("config: storage.dsn: not a PostgreSQL connection string")
    assert message.endswith("(from RIVETQ_STORAGE_DSN)") and "hunter2-secret" not in message


MALFORMED_STORAGE = 'storage: memory\nserver:\n  http_addr: 127.0.0.1:0\n  grpc_addr: ""\n  workers: 1\n'


@pytest.mark.parametrize(
    ("config", "args", "env", "line"),
    [
        (MALFORMED_STORAGE, ["--data-dir", "d"], {}, f"rivetqd: {STORAGE_NOT_SHOWN}"),
        (MALFORMED_STORAGE, [], {"RIVETQ_STORAGE_DATA_DIR": "d"}, f"rivetqd: {STORAGE_NOT_SHOWN}"),
        ("server: 8080\n", ["--http-addr", "127.0.0.1:0", "--workers", "1"], {},
         "rivetqd: config: server: expected a mapping, got 8080"),
        ("auth: hunter2-secret\n", [], {}, f"rivetqd: {AUTH_NOT_SHOWN}"),
        ("", ["--log-level", "loud"], {},
         "rivetqd: config: logging.level: expected one of 'debug', 'info', 'warning', 'error', got 'loud' "
         "(from a command-line flag)"),
        ("", [], {"RIVETQ_WAL_FSYNC": "maybe"},
         "rivetqd: config: wal.fsync: expected a boolean, got 'maybe' (from RIVETQ_WAL_FSYNC)"),
    ],
)  # fmt: skip
def test_rivetqd_refuses_a_bad_config_in_one_line(
    tmp_path: Path, config: str, args: list[str], env: dict[str, str], line: str
) -> None:
    (tmp_path / "config.yaml").write_text(config)
    finished = _run([rivetqd_path(), *args], tmp_path, env)
    assert (finished.returncode, finished.stderr) == (2, line + "\n")


def test_rivetqd_help_is_plain_text(tmp_path: Path) -> None:
    finished = _run([rivetqd_path(), "--help"], tmp_path)
    assert finished.returncode == 0
    assert "``" not in finished.stdout
    assert "rivetqd migrate: bring the PostgreSQL schema" in finished.stdout


# Runs rivetqd's entry point as if PyYAML (a `server` extra dependency) were not installed.
WITHOUT_YAML = textwrap.dedent(
    """
    import sys

    class NoYaml:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "yaml":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoYaml())
    from rivetq.cli.rivetqd import main

    sys.argv[0] = "rivetqd"
    main()
    """
)


@pytest.mark.parametrize("args", [[], ["--fsync=off"]], ids=["plain", "fsync-flag"])
def test_rivetqd_without_the_server_extra_says_how_to_install_it(tmp_path: Path, args: list[str]) -> None:
    finished = _run([sys.executable, "-c", WITHOUT_YAML, *args], tmp_path)
    assert (finished.returncode, finished.stderr) == (
        2,
        "rivetqd: needs the server extra: pip install 'rivetq[server]' (missing module yaml)\n",
    )
