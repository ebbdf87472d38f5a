"""Regression suites: a TOML file of entries (model x devices x options) and a policy.

    [policy]                       # optional; the defaults are shown
    threshold_pct = 3.0            # the smallest slowdown that counts, % of the median
    alpha = 0.01                   # significance level, after suite-wide adjustment
    iterations = 20                # timed iterations per block
    min_pairs = 3                  # A/B block pairs in the first round
    max_pairs = 24                 # the repeat budget while the verdict is "unknown"
    confirm = true                 # a regression is re-run independently before it fails
    max_temperature_c = 45.0       # a block that ran hotter is discarded
    baseline = "last-good"         # entries without their own baseline

    [[entry]]
    name = "classifier"
    model = "candidate.onnx"       # a path (relative to this file) or a model id
    baseline = "baseline.onnx"     # an artifact: paired A/B; "last-good"; "run:<run id>"
    device = "local"               # a name or serial, or a list of them
    attributes = ["chipset:sm8550"]  # or: every device with these attributes
    options = "--compute_unit cpu"
    threshold_pct = 5.0            # overrides the policy's for this entry
    compile_options = "--target_runtime onnx"  # compile both artifacts first

Every mistake is a ``UserError`` naming the file, the entry and the key, raised
before any device time is spent.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from controller.errors import UserError

LAST_GOOD = "last-good"
RUN_PREFIX = "run:"
_MODEL_ID = re.compile(r"^m[A-Za-z0-9_-]{8}$")  # the store's ids (controller/store/_codec.py)


@dataclass(frozen=True)
class Policy:
    """How a suite decides (defaults in the module doc)."""

    threshold_pct: float = 3.0
    alpha: float = 0.01
    iterations: int = 20
    min_pairs: int = 3
    # 24, not 12: on a quiet 2-core host one LiteRT thread's 20-iteration block medians
    # spread more than +-3 %, and a +5 % change was found in 26.5 % of comparisons within
    # 12 pairs but in 96 % within 24 (scripts/bench_regress.py; README "Nightly regression runs").
    max_pairs: int = 24
    confirm: bool = True
    max_temperature_c: float = 45.0
    baseline: str = LAST_GOOD

    @property
    def threshold(self) -> float:
        return self.threshold_pct / 100.0


@dataclass(frozen=True)
class ModelRef:
    """A model named by a suite: a file (resolved against the suite's folder) or an id."""

    path: Path | None = None
    model_id: str | None = None

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else str(self.model_id)


@dataclass(frozen=True)
class Baseline:
    """``artifact`` (paired A/B against ``model``), ``last-good`` or ``run`` (``run_id``)."""

    kind: str
    model: ModelRef | None = None
    run_id: str | None = None

    def __str__(self) -> str:
        if self.kind == "artifact":
            return str(self.model)
        return f"{RUN_PREFIX}{self.run_id}" if self.kind == "run" else LAST_GOOD


@dataclass(frozen=True)
class Entry:
    """One line of the suite: what runs where, against what, with which threshold."""

    name: str
    model: ModelRef
    baseline: Baseline
    devices: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    options: str = ""
    threshold_pct: float = 3.0
    compile_options: str | None = None

    @property
    def threshold(self) -> float:
        return self.threshold_pct / 100.0


@dataclass(frozen=True)
class Suite:
    """A parsed suite file."""

    name: str
    path: Path | None
    policy: Policy
    entries: tuple[Entry, ...] = field(default_factory=tuple)


_ENTRY_KEYS: tuple[str, ...] = ("name", "model", "baseline", "device", "attributes", "options")
_ENTRY_KEYS += ("threshold_pct", "compile_options")


def load_suite(path: str | Path, candidates: list[str] | tuple[str, ...] = ()) -> Suite:
    """Read and check a suite file; ``candidates`` override entries' models.

    Args:
        path: the TOML file.
        candidates: ``"FILE"`` (every entry's model) or ``"ENTRY=FILE"`` (one entry's),
            as ``devicelab regress run --candidate`` takes them.

    Raises:
        UserError: unreadable file, bad TOML, unknown or mistyped key, missing model.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"suite {path}: cannot read it: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"suite {path}: not valid TOML: {exc}") from exc
    return parse_suite(data, path=path, candidates=candidates)


def parse_suite(
    data: dict[str, Any], *, path: Path | None = None, candidates: list[str] | tuple[str, ...] = ()
) -> Suite:
    """A suite from its TOML data (``path`` names it in errors and anchors relative paths)."""
    where = f"suite {path}" if path else "suite"
    _check_keys(data, ("name", "policy", "entry"), where)
    policy = _policy(data.get("policy", {}), where)
    raw_entries = data.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise UserError(f"{where}: no [[entry]] tables; a suite needs at least one entry")
    folder = path.parent if path else Path.cwd()
    entries = [_entry(raw, i, policy, folder, where) for i, raw in enumerate(raw_entries)]
    _check_unique(entries, where)
    entries = _with_candidates(entries, candidates, where)
    name = str(data.get("name") or (path.stem if path else "suite"))
    return Suite(name=name, path=path, policy=policy, entries=tuple(entries))


def _policy(raw: Any, where: str) -> Policy:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: [policy] must be a table")
    names = tuple(f.name for f in fields(Policy))
    _check_keys(raw, names, f"{where} [policy]")
    values = {name: _typed(raw[name], Policy, name, f"{where} [policy]") for name in raw}
    policy = Policy(**values)
    if not 0 < policy.alpha < 1:
        raise UserError(f"{where} [policy]: alpha must be between 0 and 1, got {policy.alpha}")
    # Fewer than 3 blocks per arm are not enough to compare blocks (controller/regress/stats.py).
    if not 3 <= policy.min_pairs <= policy.max_pairs:
        raise UserError(
            f"{where} [policy]: need 3 <= min_pairs <= max_pairs, got "
            f"min_pairs={policy.min_pairs}, max_pairs={policy.max_pairs}"
        )
    smallest_p = 2 / math.comb(2 * policy.max_pairs, policy.max_pairs)
    if smallest_p >= policy.alpha:
        # Blocks are the samples (controller/regress/stats.py): n + n of them cannot
        # give a Mann-Whitney p below 2 / C(2n, n), whatever the slowdown.
        least = next(n for n in range(3, 50) if 2 / math.comb(2 * n, n) < policy.alpha)
        raise UserError(
            f"{where} [policy]: max_pairs={policy.max_pairs} can never show a regression at "
            f"alpha={policy.alpha:g} (the smallest p with {policy.max_pairs} + "
            f"{policy.max_pairs} blocks is {smallest_p:.2g}); use max_pairs >= {least}"
        )
    if policy.iterations < 3 or policy.threshold_pct <= 0:
        raise UserError(f"{where} [policy]: iterations must be >= 3 and threshold_pct > 0")
    return policy


def _typed(value: Any, cls: type, name: str, where: str) -> Any:
    default = getattr(cls(), name)
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise UserError(f"{where}: {name} must be {expected.__name__}, got {value!r}")
    return value


def _entry(raw: Any, index: int, policy: Policy, folder: Path, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: entry {index + 1} must be a table")
    label = f"{where} entry {raw.get('name') or index + 1!r}"
    _check_keys(raw, _ENTRY_KEYS, label)
    for key in ("name", "model"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise UserError(f"{label}: {key} is required (a string)")
    devices = _strings(raw.get("device", ()), "device", label)
    attributes = _strings(raw.get("attributes", ()), "attributes", label)
    if not devices and not attributes:
        devices = ("local",)
    threshold = raw.get("threshold_pct", policy.threshold_pct)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
        raise UserError(f"{label}: threshold_pct must be a number > 0, got {threshold!r}")
    for key in ("options", "compile_options"):
        if key in raw and not isinstance(raw[key], str):
            raise UserError(f"{label}: {key} must be a string, got {raw[key]!r}")
    return Entry(
        name=raw["name"].strip(),
        model=model_ref(raw["model"], folder, f"{label}: model"),
        baseline=_baseline(str(raw.get("baseline", policy.baseline)), folder, label),
        devices=devices,
        attributes=attributes,
        options=raw.get("options", ""),
        threshold_pct=float(threshold),
        compile_options=raw.get("compile_options"),
    )


def _strings(value: Any, key: str, label: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) and v for v in items):
        raise UserError(f"{label}: {key} must be a string or a list of strings, got {value!r}")
    return tuple(items)


def _baseline(value: str, folder: Path, label: str) -> Baseline:
    if value == LAST_GOOD:
        return Baseline("last-good")
    if value.startswith(RUN_PREFIX):
        run_id = value[len(RUN_PREFIX) :].strip()
        if not run_id:
            raise UserError(f"{label}: baseline {value!r} names no run id")
        return Baseline("run", run_id=run_id)
    return Baseline("artifact", model=model_ref(value, folder, f"{label}: baseline"))


def model_ref(value: str, folder: Path, label: str) -> ModelRef:
    """A file (relative to ``folder``) if one exists, else a model id; else a UserError."""
    path = Path(value).expanduser()
    path = path if path.is_absolute() else folder / path
    if path.exists():
        return ModelRef(path=path)
    if _MODEL_ID.match(value):
        return ModelRef(model_id=value)
    raise UserError(f"{label}: {value!r} is neither a file (looked for {path}) nor a model id")


def _check_keys(raw: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; known: {', '.join(known)}"
            raise UserError(f"{where}: unknown key {key!r}{hint}")


def _check_unique(entries: list[Entry], where: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise UserError(f"{where}: two entries are named {entry.name!r}; names must differ")
        seen.add(entry.name)


def _with_candidates(entries: list[Entry], candidates: Any, where: str) -> list[Entry]:
    """``--candidate FILE`` replaces every entry's model; ``ENTRY=FILE`` one entry's."""
    by_name = {e.name: e for e in entries}
    for spec in candidates:
        name, sep, value = spec.partition("=")
        if sep and name in by_name:
            ref = model_ref(value, Path.cwd(), f"--candidate {spec}")
            by_name[name] = replace(by_name[name], model=ref)
        elif sep and not Path(spec).exists():
            raise UserError(
                f"--candidate {spec}: {where} has no entry {name!r}; entries: {', '.join(by_name)}"
            )
        else:
            ref = model_ref(spec, Path.cwd(), f"--candidate {spec}")
            by_name = {n: replace(e, model=ref) for n, e in by_name.items()}
    return list(by_name.values())
