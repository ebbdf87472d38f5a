"""SoC device profiles: load and validate ``device_profiles/*.toml``.

A profile holds the per-SoC facts devicelab needs to run a model on the NPU
(QNN ``soc_model`` id, HTP arch, VTCM, fp16 support, library directories) and
the strings that identify the SoC on a device. The TOML schema is described in
``device_profiles/README.md``; this module is its only reader. Which profile a
device's properties match is :mod:`controller.devices.matching`'s.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from controller.errors import InternalError, UserError

# Form factors, as AI Hub spells its ``format:`` attribute values.
FORMATS = frozenset({"phone", "tablet", "iot", "auto", "xr", "compute"})
SCHEMA_VERSION = 1

# The fields of a profile file, per table (see device_profiles/README.md).
_HTP_KEYS = ("soc_model", "arch", "vtcm_mb", "fp16", "hvx_threads", "weight_sharing", "simulator")
_IDENTIFY_KEYS = ("soc_models", "platforms", "dt_compatible", "machines")
_LIBRARY_KEYS = ("qnn", "dsp")
_PHONE_KEYS = ("name", "models", "format", "chipset", "chipset_aliases")
_FACT_KEYS = ("name", "part_number", "chipset", "chipset_aliases", "format", "phones")
_TOP_KEYS = (*_FACT_KEYS, "schema_version", "unverified", "htp", "identify", "libraries", "sources")
# Dotted names a profile may list in ``unverified`` and in ``[[sources]].facts``.
FACT_NAMES = frozenset(
    (
        *_FACT_KEYS,
        *(f"htp.{key}" for key in _HTP_KEYS),
        *(f"identify.{key}" for key in _IDENTIFY_KEYS),
        *(f"libraries.{key}" for key in _LIBRARY_KEYS),
    )
)


@dataclass(frozen=True)
class Phone:
    """A known product with this SoC; ``models`` are its ``ro.product.model`` values.

    ``format`` and ``chipset``/``chipset_aliases`` override the profile's when the
    product differs (a tablet; Samsung's "for Galaxy" bins, which AI Hub names apart).
    """

    name: str
    models: tuple[str, ...]
    format: str | None = None
    chipset: str | None = None
    chipset_aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identify:
    """Strings that identify the SoC, normalised for comparison (see ``match_profile``)."""

    soc_models: tuple[str, ...] = ()  # upper case, e.g. "SM8550"
    platforms: tuple[str, ...] = ()  # lower case, e.g. "kalama"
    dt_compatible: tuple[str, ...] = ()  # lower case, e.g. "qcom,sm8550"
    machines: tuple[str, ...] = ()  # lower case, e.g. "x86_64"


@dataclass(frozen=True)
class Source:
    """Where the listed facts came from."""

    facts: tuple[str, ...]
    where: str


@dataclass(frozen=True)
class DeviceProfile:
    """The facts of one SoC family, as loaded from one TOML file.

    Example:
        >>> p = next(p for p in load_profiles() if p.part_number == "SM8550")
        >>> (p.chipset, p.soc_model, p.hexagon, p.vtcm_mb)
        ('qualcomm-snapdragon-8gen2', 43, 'v73', 8)
    """

    path: Path
    name: str
    part_number: str
    chipset: str
    chipset_aliases: tuple[str, ...]
    format: str
    soc_model: int | None  # QNN soc_model id; None without an NPU
    htp_arch: int | None  # 73 for v73
    vtcm_mb: int | None
    htp_fp16: bool
    hvx_threads: int | None
    htp_weight_sharing: bool | None  # None: not known
    htp_simulator: bool  # the HTP runs as onnxruntime-qnn's x86_64 simulator
    identify: Identify
    qnn_library_dirs: tuple[str, ...]
    dsp_library_dirs: tuple[str, ...]
    phones: tuple[Phone, ...]
    sources: tuple[Source, ...]
    unverified: frozenset[str]

    @property
    def has_npu(self) -> bool:
        return self.soc_model is not None

    @property
    def hexagon(self) -> str | None:
        """The HTP arch as AI Hub's ``hexagon:`` attribute spells it, e.g. ``"v73"``."""
        return None if self.htp_arch is None else f"v{self.htp_arch}"

    def phone(self, product_model: str) -> Phone | None:
        """The known product whose ``ro.product.model`` this is, if any."""
        wanted = normalise_product(product_model)
        return next((ph for ph in self.phones if wanted in ph.models), None)

    def is_verified(self, fact: str) -> bool:
        """False when the profile lists ``fact`` (e.g. ``"htp.arch"``) as unverified."""
        return fact not in self.unverified


# --- loading ---------------------------------------------------------------------------


def default_profiles_dir() -> Path:
    """The ``device_profiles/`` directory at the top of the devicelab checkout."""
    return Path(__file__).resolve().parents[2] / "device_profiles"


def load_profiles(directory: Path | str | None = None) -> list[DeviceProfile]:
    """Load and validate every ``*.toml`` profile in ``directory``, sorted by file name.

    Raises ``UserError`` naming the file and field for a malformed profile, and for
    two profiles that claim the same identifier (the match would be ambiguous).

    Example:
        >>> [p.part_number for p in load_profiles()][:2]
        ['x86_64', 'QCS6490']
    """
    root = Path(directory) if directory is not None else default_profiles_dir()
    if not root.is_dir():
        if directory is not None:
            raise UserError(f"device profile directory {root} does not exist")
        # The profiles ship beside the controller package; an install without them is our bug.
        raise InternalError(f"devicelab's device_profiles/ is missing: looked in {root}")
    profiles = [load_profile(path) for path in sorted(root.glob("*.toml"))]
    _check_unique(profiles)
    return profiles


def load_profile(path: Path) -> DeviceProfile:
    """Load and validate one profile file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"device profile {path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"device profile {path}: not valid TOML: {exc}") from exc
    return _parse_profile(_Table(data, path))


def _parse_profile(top: _Table) -> DeviceProfile:
    top.check_keys(_TOP_KEYS)
    if top.integer("schema_version") != SCHEMA_VERSION:
        top.fail("schema_version", f"{SCHEMA_VERSION}", top.data.get("schema_version"))
    htp = _parse_htp(top.table("htp"))
    libraries = top.table("libraries") or _Table({}, top.path, "libraries.")
    libraries.check_keys(_LIBRARY_KEYS)
    return DeviceProfile(
        path=top.path,
        name=top.text("name"),
        part_number=top.text("part_number"),
        chipset=top.text("chipset"),
        chipset_aliases=top.texts("chipset_aliases"),
        format=str(top.choice("format", FORMATS)),
        identify=_parse_identify(top),
        qnn_library_dirs=libraries.texts("qnn"),
        dsp_library_dirs=libraries.texts("dsp"),
        phones=tuple(_parse_phone(t) for t in top.tables("phones")),
        sources=_parse_sources(top),
        unverified=frozenset(_fact_names(top, "unverified")),
        **htp,
    )


def _parse_htp(table: _Table | None) -> dict[str, Any]:
    if table is None:
        return _NO_HTP
    table.check_keys(_HTP_KEYS)
    simulator = bool(table.flag("simulator", required=False))
    # A simulator profile is not tied to one SoC; a real HTP must say which one it is.
    required = not simulator
    return {
        "soc_model": table.integer("soc_model", required=required, minimum=1),
        "htp_arch": table.integer("arch", required=required, minimum=60),
        "vtcm_mb": table.integer("vtcm_mb", required=False, minimum=1),
        "htp_fp16": bool(table.flag("fp16", required=required)),
        "hvx_threads": table.integer("hvx_threads", required=False, minimum=1),
        "htp_weight_sharing": table.flag("weight_sharing", required=False),
        "htp_simulator": simulator,
    }


_NO_HTP: dict[str, Any] = {
    "soc_model": None,
    "htp_arch": None,
    "vtcm_mb": None,
    "htp_fp16": False,
    "hvx_threads": None,
    "htp_weight_sharing": None,
    "htp_simulator": False,
}


def _parse_identify(top: _Table) -> Identify:
    table = top.table("identify")
    if table is None:
        top.fail("identify", "a table", None)
    table.check_keys(_IDENTIFY_KEYS)
    identify = Identify(
        soc_models=tuple(normalise_soc_model(v) for v in table.texts("soc_models")),
        platforms=tuple(v.lower() for v in table.texts("platforms")),
        dt_compatible=tuple(v.lower() for v in table.texts("dt_compatible")),
        machines=tuple(v.lower() for v in table.texts("machines")),
    )
    if not (
        identify.soc_models or identify.platforms or identify.dt_compatible or identify.machines
    ):
        table.fail("soc_models", "set (a profile needs at least one identifier)", None)
    return identify


def _parse_phone(table: _Table) -> Phone:
    table.check_keys(_PHONE_KEYS)
    models = tuple(normalise_product(m) for m in table.texts("models"))
    if not models:
        table.fail("models", "a non-empty list of ro.product.model values", [])
    return Phone(
        name=table.text("name"),
        models=models,
        format=table.choice("format", FORMATS, required=False),
        chipset=table.optional_text("chipset"),
        chipset_aliases=table.texts("chipset_aliases"),
    )


def _parse_sources(top: _Table) -> tuple[Source, ...]:
    tables = top.tables("sources")
    if not tables:
        top.fail("sources", "a non-empty list of [[sources]] tables", None)
    sources = []
    for table in tables:
        table.check_keys({"facts", "where"})
        sources.append(Source(facts=_fact_names(table, "facts"), where=table.text("where")))
    return tuple(sources)


def _fact_names(table: _Table, key: str) -> tuple[str, ...]:
    names = table.texts(key)
    for name in names:
        if name not in FACT_NAMES:
            table.fail(key, f"a list of field names from {sorted(FACT_NAMES)}", name)
    return names


@dataclass(frozen=True)
class _Table:
    """One TOML table being validated; errors name the file and the dotted field."""

    data: Mapping[str, Any]
    path: Path
    prefix: str = ""

    def fail(self, key: str, expected: str, value: object) -> NoReturn:
        got = "nothing" if value is None else repr(value)
        raise UserError(
            f"device profile {self.path}: field '{self.prefix}{key}' must be {expected}, got {got}"
        )

    def check_keys(self, allowed: Iterable[str]) -> None:
        known = sorted(allowed)
        for key in self.data:
            if key not in known:
                self.fail(key, f"absent (unknown field; known: {known})", key)

    def _get(self, key: str, ok: Callable[[Any], bool], expected: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            self.fail(key, expected, None)
        if value is not None and not ok(value):
            self.fail(key, expected, value)
        return value

    def text(self, key: str) -> str:
        return str(self._get(key, _is_text, "a non-empty string", True))

    def optional_text(self, key: str) -> str | None:
        return self._get(key, _is_text, "a non-empty string", False)

    def flag(self, key: str, required: bool = True) -> bool | None:
        return self._get(key, lambda v: isinstance(v, bool), "true or false", required)

    def integer(self, key: str, required: bool = True, minimum: int = 0) -> int | None:
        def ok(v: Any) -> bool:
            # bool is an int subclass in Python; `soc_model = true` is still a mistake.
            return isinstance(v, int) and not isinstance(v, bool) and v >= minimum

        return self._get(key, ok, f"an integer >= {minimum}", required)

    def choice(self, key: str, choices: frozenset[str], required: bool = True) -> str | None:
        return self._get(key, lambda v: v in choices, f"one of {sorted(choices)}", required)

    def texts(self, key: str) -> tuple[str, ...]:
        def ok(v: Any) -> bool:
            return isinstance(v, list) and all(_is_text(item) for item in v)

        return tuple(self._get(key, ok, "a list of non-empty strings", False) or ())

    def table(self, key: str) -> _Table | None:
        value = self._get(key, lambda v: isinstance(v, dict), "a table", False)
        return None if value is None else _Table(value, self.path, f"{self.prefix}{key}.")

    def tables(self, key: str) -> list[_Table]:
        def ok(v: Any) -> bool:
            return isinstance(v, list) and all(isinstance(item, dict) for item in v)

        items = self._get(key, ok, f"a list of [[{key}]] tables", False) or []
        return [_Table(t, self.path, f"{self.prefix}{key}[{i}].") for i, t in enumerate(items)]


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check_unique(profiles: list[DeviceProfile]) -> None:
    """Reject two profiles claiming one identifier: which one matched would depend on order."""
    claims: dict[tuple[str, str], Path] = {}
    for profile in profiles:
        for field, value in _claims(profile):
            owner = claims.setdefault((field, value), profile.path)
            if owner != profile.path:
                raise UserError(
                    f"device profile {profile.path}: field '{field}' value {value!r} "
                    f"is already claimed by {owner}"
                )


def _claims(profile: DeviceProfile) -> Iterable[tuple[str, str]]:
    ident = profile.identify
    yield "chipset", profile.chipset
    yield from (("chipset", alias) for alias in profile.chipset_aliases)
    yield from (("identify.soc_models", v) for v in ident.soc_models)
    yield from (("identify.platforms", v) for v in ident.platforms)
    yield from (("identify.dt_compatible", v) for v in ident.dt_compatible)
    yield from (("identify.machines", v) for v in ident.machines)
    yield from (("phones.models", m) for phone in profile.phones for m in phone.models)
    if profile.soc_model is not None:
        yield "htp.soc_model", str(profile.soc_model)


def normalise_soc_model(value: str) -> str:
    """``"sm8550-ab "`` -> ``"SM8550"``: bin suffixes do not change the HTP."""
    return value.strip().upper().split("-")[0]


def normalise_product(value: str) -> str:
    """``ro.product.model`` as profiles store it: upper case, single spaces."""
    return " ".join(value.split()).upper()
