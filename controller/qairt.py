"""``--qairt_version``: the cloud's choice among QNN SDK versions, against the one that ran.

A device runs the QNN SDK it has (onnxruntime-qnn's bundled SDK on this host and on
Linux boards, the phone's own libraries otherwise), so the option is recorded and a
result warns when a QNN SDK ran whose version is not the one asked for. The tags
``default`` and ``latest`` mean "whatever the lab runs" and never warn.
"""

from __future__ import annotations

from typing import Any

TAGS = ("default", "latest")


def qnn_version_ran(applied: dict[str, Any]) -> str:
    """The QNN SDK version a run used ("" when QNN did not run it), from ``devicelab.applied``."""
    if not any("qnn" in a.lower() for a in applied.get("accelerators", [])):
        return ""
    return str((applied.get("settings") or {}).get("qnn_sdk", ""))


def version_matches(asked: str, ran: str) -> bool:
    """``2.50`` matches ``2.50.0`` and ``2.50.1``; a tag matches anything.

    Example:
        >>> [version_matches("2.50", v) for v in ("2.50.0", "2.51.0")]
        [True, False]
    """
    if asked in TAGS:
        return True
    wanted = asked.split(".")
    return ran.split(".")[: len(wanted)] == wanted


def qairt_warning(asked: str | None, applied: dict[str, Any]) -> str | None:
    """A line for ``devicelab.warnings`` when QNN SDK ``asked`` is not the one that ran."""
    ran = qnn_version_ran(applied)
    if not asked or not ran or version_matches(asked, ran):
        return None
    return (
        f"--qairt_version {asked} was asked, but this device ran QNN SDK {ran}: devicelab "
        "runs the QNN SDK each device has"
    )
