"""Help text and OPTIONS.md, both rendered from the option table.

``describe_options`` backs ``devicelab options``; ``render_markdown`` is what
``scripts/gen_options_doc.py`` writes to OPTIONS.md. Both read the same
``facts`` so the terminal and the docs can never disagree.
"""

from __future__ import annotations

import re
import textwrap

from controller.options.spec import JOBS, RUNTIMES, Kind, OptionSpec, Spec, SubTable
from controller.options.table import COMPILE_DEFAULT_TARGETS, MODEL_RUNTIMES, OPTIONS
from controller.options.values import allowed_text, format_value

_TYPE_NAMES = {
    Kind.FLAG: "flag, optionally followed by true or false",
    Kind.BOOL: "boolean",
    Kind.INT: "integer",
    Kind.FLOAT: "number",
    Kind.ENUM: "one value from a fixed set",
    Kind.ENUM_LIST: "comma separated list, used in the order given",
    Kind.NAME_LIST: "comma separated names",
    Kind.SUB_OPTIONS: "semicolon separated key=value sub-options",
    Kind.TEXT: "one value without spaces",
}

_GRAMMAR_NOTES = (
    "Write `--option value` or `--option=value`; quote lists that hold spaces or semicolons.",
    "Flags take an optional boolean: `--quantize_io`, `--quantize_io true`, `--quantize_io=false`.",
    "Booleans are `true` or `false` in any letter case; `1`/`0` and `yes`/`no` are not accepted.",
    "Enum values (and sub-option values) are spelled exactly as listed.",
    "Each option and each sub-option may be given once.",
    "Sub-options are `key=value` pairs separated by semicolons; blank entries are ignored.",
)


def section_of(spec: OptionSpec) -> str:
    """The docs section an option belongs to, from the jobs it applies to."""
    if spec.jobs == frozenset(JOBS):
        return "Common options (compile, profile, inference)"
    kinds = [job for job in JOBS if job in spec.jobs]
    return f"{' and '.join(kinds).capitalize()} options"


def default_text(spec: Spec) -> str:
    if spec.default_text:
        return spec.default_text
    if spec.default is None:
        return "set by the runtime"
    if spec.default == ():
        return "none"
    return format_value(spec, spec.default)


def facts(spec: Spec) -> list[tuple[str, str]]:
    """(label, text) lines describing one option or sub-option."""
    allowed = allowed_text(spec)
    if spec.choice_help:
        allowed = "; ".join(
            f"{c} ({spec.choice_help[c]})" if c in spec.choice_help else c for c in spec.choices
        )
    kind = "comma separated list, unordered" if spec.unordered else _TYPE_NAMES[spec.kind]
    lines = [
        ("type", kind),
        ("allowed", allowed),
        ("default", default_text(spec)),
    ]
    if spec.kind is Kind.SUB_OPTIONS:
        lines = lines[:1] + lines[2:]
    if isinstance(spec, OptionSpec):
        jobs = ", ".join(job for job in JOBS if job in spec.jobs)
        where = spec.rule() if spec.runtimes != frozenset(RUNTIMES) else "any target runtime"
        lines.append(("applies to", f"{jobs} jobs; {where}"))
    prefix = "--" if isinstance(spec, OptionSpec) else ""
    lines += [("requires", rule.describe(prefix)) for rule in spec.requires]
    if spec.example:
        lines.append(("example", spec.example))
    return lines


def _sections() -> dict[str, list[OptionSpec]]:
    grouped: dict[str, list[OptionSpec]] = {}
    for spec in OPTIONS:
        grouped.setdefault(section_of(spec), []).append(spec)
    return grouped


def _sub_tables() -> list[tuple[OptionSpec, SubTable]]:
    return [(spec, table) for spec in OPTIONS for table in spec.sub_tables]


def _mappings() -> list[str]:
    run = ", ".join(f"{s} -> {r}" for s, r in MODEL_RUNTIMES.items())
    compile_ = ", ".join(f"{s} -> {r}" for s, r in COMPILE_DEFAULT_TARGETS.items())
    return [
        f"Profile and inference jobs run the model file's runtime: {run}.",
        f"Compile jobs default to a target runtime from the source model: {compile_}.",
    ]


def describe_options() -> str:
    """Help text for every option and sub-option (``devicelab options``).

    Example:
        >>> print(describe_options().splitlines()[0])
        devicelab options
    """
    out = ["devicelab options", ""]
    out += [_wrap(note.replace("`", ""), 0) for note in (*_GRAMMAR_NOTES, *_mappings())]
    for title, specs in _sections().items():
        out += ["", title, ""]
        for spec in specs:
            out += _describe_one(f"--{spec.name} {spec.metavar}", spec, 2)
    for parent, table in _sub_tables():
        out += ["", f"{table.title} (--{parent.name})", _wrap(table.help, 2), ""]
        for sub in table.options:
            out += _describe_one(f"{sub.name}={sub.metavar}", sub, 2)
    return "\n".join(out) + "\n"


def _describe_one(heading: str, spec: Spec, indent: int) -> list[str]:
    lines = [" " * indent + heading, _wrap(spec.help, indent + 4, hang=0)]
    lines += [_wrap(f"{label}: {text}", indent + 4) for label, text in facts(spec)]
    return lines


def _wrap(text: str, indent: int, hang: int = 2) -> str:
    pad = " " * indent
    return textwrap.fill(text, width=96, initial_indent=pad, subsequent_indent=pad + " " * hang)


def render_markdown() -> str:
    """OPTIONS.md: every option and sub-option, generated from the table.

    Example:
        >>> render_markdown().startswith("# devicelab options")
        True
    """
    out = [
        "# devicelab options",
        "",
        "<!-- Generated by scripts/gen_options_doc.py from controller/options/table.py"
        " and contract/option_tables.py; do not edit. -->",
        "",
    ]
    out += [f"- {note}" for note in (*_GRAMMAR_NOTES, *_mappings())]
    for title, specs in _sections().items():
        out += ["", f"## {title}"]
        for spec in specs:
            out += ["", f"### `--{spec.name} {spec.metavar}`", "", _md(spec.help), ""]
            out += [_md_fact(label, text) for label, text in facts(spec)]
    for parent, table in _sub_tables():
        out += ["", f"## {table.title} (`--{parent.name}`)", "", _md(table.help), ""]
        out += ["| Sub-option | Allowed | Default | Description |", "|---|---|---|---|"]
        out += [_md_row(sub) for sub in table.options]
    return "\n".join(out) + "\n"


def _md_row(spec: Spec) -> str:
    details = dict(facts(spec))
    description = spec.help
    if "requires" in details:
        description += f" Requires: {details['requires']}."
    cells = [f"`{spec.name}={spec.metavar}`"]  # code span: no HTML escaping inside
    cells += [_md(text) for text in (details["allowed"], details["default"], description)]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _md_fact(label: str, text: str) -> str:
    return f"- **{label}**: `{text}`" if label == "example" else f"- **{label}**: {_md(text)}"


def _md(text: str) -> str:
    # "<num>" and the like would otherwise be read as HTML tags ("<= 600" is safe).
    return re.sub(r"<(?=[A-Za-z/])", "&lt;", text)
