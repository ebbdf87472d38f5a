"""The profile dict in the cloud client's Python types.

The store keeps results as JSON, which has no tuples and where the builder
keeps per-layer medians as floats. The client hands out ints (microseconds,
bytes, cycles) and ``(lower, upper)`` tuples for ``*_range``; scripts index
and compare them that way (``peak_range[1]``, ``== (0, 0)``, ``isinstance(t, int)``).
Only the two cloud keys are converted; ``devicelab`` stays as measured.
"""

from __future__ import annotations

from typing import Any

_LAYER_INTS = ("execution_time", "execution_cycles")


def _summary_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key.endswith("_range"):
        return tuple(int(round(v)) for v in value)
    if isinstance(value, list):
        return [int(round(v)) for v in value]
    if isinstance(value, float):
        return int(round(value))
    return value


def _layer(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    for key in _LAYER_INTS:
        if isinstance(out.get(key), float):
            out[key] = int(round(out[key]))
    return out


def client_profile(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with ``execution_summary`` / ``execution_detail`` in the client's types.

    Example:
        >>> client_profile({"execution_summary": {"inference_memory_peak_range": [1, 2],
        ...                 "estimated_inference_time": 5.6}, "execution_detail": []})
        {'execution_summary': {'inference_memory_peak_range': (1, 2), 'estimated_inference_time': 6}, 'execution_detail': []}
    """  # noqa: E501
    out = dict(result)
    summary = result.get("execution_summary")
    if isinstance(summary, dict):
        out["execution_summary"] = {k: _summary_value(k, v) for k, v in summary.items()}
    detail = result.get("execution_detail")
    if isinstance(detail, list):
        out["execution_detail"] = [_layer(e) if isinstance(e, dict) else e for e in detail]
    return out
