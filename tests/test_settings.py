"""Every DEVICELAB_ setting is in one table, read through it, and documented from it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent import settings as agent_settings
from controller import settings
from controller.device_states import HealthSettings
from controller.errors import UserError
from controller.liveness import StreamLimits

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"\bDEVICELAB_[A-Z0-9_]*[A-Z0-9]\b")
#: DEVICELAB_ words in controller/ that are not settings, and why.
NOT_SETTINGS = {
    "DEVICELAB_AGENT_READY": "the agent's ready line (contract/handshake.py)",
    "DEVICELAB_RUNTIME_OK": "a line the runtime's self-check prints",
    "DEVICELAB_RUNTIME_BAD": "a line the runtime's self-check prints",
    "DEVICELAB_SERIAL": "given to DEVICELAB_RECOVERY_HOOK's command, never read",
}
#: Test infrastructure with its own variables (DEVICELAB_STANDIN_*, DEVICELAB_ADB).
STANDIN = ROOT / "phone_standin"
TABLES = {entry.name for entry in settings.SETTINGS} | {
    entry.name for entry in agent_settings.SETTINGS
}

#: The accessor for each kind of setting.
READERS: dict[str, Callable[..., object]] = {
    "seconds": settings.seconds,
    "int": settings.integer,
    "number": settings.number,
    "bool": settings.flag,
    "choice": settings.choice,
    "str": settings.text,
    "path": settings.path,
    "words": settings.words,
}


def _sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if STANDIN not in p.parents)


def test_every_devicelab_name_in_the_controller_is_in_a_table() -> None:
    unknown = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in _sources("controller")
        for name in NAME.findall(path.read_text(encoding="utf-8"))
        if name not in TABLES and name not in NOT_SETTINGS
    }
    assert not unknown, "add them to controller/settings.py's SETTINGS:\n" + "\n".join(
        sorted(unknown)
    )


def _string_constants(paths: list[Path]) -> dict[str, str]:
    """Module-level ``NAME = "DEVICELAB_..."`` constants (``SIMULATE_ENV`` and the like)."""
    found: dict[str, str] = {}
    for path in paths:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        found[target.id] = node.value.value
    return found


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _env_keys(tree: ast.AST) -> list[ast.expr]:
    """The keys of ``os.environ.get(k)``, ``os.getenv(k)``, ``os.environ[k]`` and
    ``k in os.environ`` read in ``tree`` (writes are not reads)."""
    keys: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Attribute) and (
                (func.attr == "get" and _is_environ(func.value)) or func.attr == "getenv"
            ):
                keys.append(node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if _is_environ(node.value):
                keys.append(node.slice)
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.ops[0], ast.In | ast.NotIn)
            and _is_environ(node.comparators[0])
        ):
            keys.append(node.left)
    return keys


@pytest.mark.parametrize("package", ["controller", "agent"])
def test_only_the_settings_module_reads_devicelab_variables(package: str) -> None:
    paths = _sources(package)
    constants = _string_constants(_sources("controller") + _sources("agent"))
    readers = []
    for path in paths:
        if path == ROOT / package / "settings.py":
            continue
        for key in _env_keys(ast.parse(path.read_text(encoding="utf-8"))):
            value = key.value if isinstance(key, ast.Constant) else None
            if isinstance(key, ast.Name):
                value = constants.get(key.id)
            if isinstance(value, str) and value.startswith("DEVICELAB_"):
                readers.append(f"{path.relative_to(ROOT)}:{key.lineno}: {value}")
    assert not readers, f"read these through {package}/settings.py:\n" + "\n".join(readers)


def test_the_table_names_units_and_defaults_consistently() -> None:
    names = [entry.name for entry in settings.SETTINGS]
    assert len(names) == len(set(names))
    assert not set(names) & {entry.name for entry in agent_settings.SETTINGS}
    for entry in settings.SETTINGS:
        assert entry.name.startswith("DEVICELAB_") and entry.meaning, entry.name
        assert not entry.name.endswith(("_SEC", "_SECS", "_SECONDS")), entry.name
        assert (entry.kind == "seconds") == entry.name.endswith("_S"), entry.name
        assert entry.default or entry.unset or entry.kind in ("str", "words", "choice"), entry
        if entry.kind == "choice" and entry.default:
            assert entry.default in entry.choices, entry.name


def test_every_default_parses_as_its_type() -> None:
    for entry in settings.SETTINGS:
        READERS[entry.kind](entry.name, {})


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DEVICELAB_AGENT_SILENCE_S", "abc", "expected seconds"),
        ("DEVICELAB_WORKER_STALE_S", "-1", "expected seconds"),
        ("DEVICELAB_DEVICE_RETRIES", "2.5", "expected an integer"),
        ("DEVICELAB_REST_TEMP_C", "hot", "expected a number"),
        ("DEVICELAB_SIMULATE", "maybe", "expected 1 or 0"),
        ("DEVICELAB_LOCAL_RUNTIME", "docker", "expected one of managed, current"),
        ("DEVICELAB_DEVICE_ENV", "A='unclosed", "expected shell words"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UserError) as caught:
        READERS[settings.setting(name).kind](name)
    assert f"{name}={value!r}" in str(caught.value)
    assert expected in str(caught.value)


def test_the_components_raise_it_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICELAB_AGENT_SILENCE_S", "abc")
    with pytest.raises(UserError, match="DEVICELAB_AGENT_SILENCE_S='abc'"):
        StreamLimits.from_env()
    with pytest.raises(UserError, match="DEVICELAB_RECOVERY_REBOOT='sometimes'"):
        HealthSettings.from_env({"DEVICELAB_RECOVERY_REBOOT": "sometimes"})


def test_values_are_read_when_used_not_at_import(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEVICELAB_AGENT_SILENCE_S", " 7.5 ")
    monkeypatch.setenv("DEVICELAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DEVICELAB_SIMULATE", "yes")
    assert StreamLimits.from_env().silence_s == 7.5
    assert settings.home_dir() == tmp_path / "home" and (tmp_path / "home").is_dir()
    assert settings.flag("DEVICELAB_SIMULATE")
    monkeypatch.setenv("DEVICELAB_AGENT_SILENCE_S", "")  # empty counts as unset
    assert StreamLimits.from_env().silence_s == 30.0


def test_readme_settings_list_is_up_to_date() -> None:
    script = ROOT / "scripts" / "gen_settings_doc.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in TABLES:
        assert f"`{name}`" in readme, name
