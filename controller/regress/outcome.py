"""What a suite run concluded: one ``TargetResult`` per entry x device, and the run.

These are what the reports (JUnit, HTML, JSON) render and what the store keeps as
history; ``SuiteRun.exit_code`` is what ``devicelab regress run`` returns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from contract.layers import LayerTiming
from controller.regress.blame import LayerChange
from controller.regress.blocks import Block
from controller.regress.history import DeviceHistory
from controller.regress.stats import Comparison
from controller.regress.suite import Policy

EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
#: Verdicts beyond the comparison's four: no baseline yet; the entry could not run.
NEW, ERROR = "new", "error"
#: Profiled iterations kept per stored result (an unpaired baseline's layer times).
STORED_LAYER_ITERATIONS = 12


@dataclass
class TargetResult:
    """One entry on one device: the verdict and everything behind it."""

    entry: str
    device_serial: str
    device_name: str
    verdict: str
    baseline: str  # what the baseline was, in words
    paired: bool = True
    threshold_pct: float = 3.0
    comparison: Comparison | None = None
    confirmation: Comparison | None = None
    notes: list[str] = field(default_factory=list)
    layers: list[LayerChange] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    baseline_samples_us: list[int] = field(default_factory=list)
    candidate_samples_us: list[int] = field(default_factory=list)
    candidate_blocks_us: list[list[int]] = field(default_factory=list)  # kept, per block
    candidate_layer_iterations: list[list[LayerTiming]] = field(default_factory=list)
    candidate_model_id: str | None = None
    baseline_model_id: str | None = None
    history: DeviceHistory | None = None

    @property
    def label(self) -> str:
        return f"{self.entry} @ {self.device_name}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's view: everything, samples included."""
        c = self.comparison
        return {
            "entry": self.entry,
            "device_serial": self.device_serial,
            "device_name": self.device_name,
            "verdict": self.verdict,
            "baseline": self.baseline,
            "paired": self.paired,
            "threshold_pct": self.threshold_pct,
            "baseline_median_us": c.baseline_median_us if c else None,
            "candidate_median_us": _candidate_median(self),
            "comparison": c.as_dict() if c else None,
            "confirmation": self.confirmation.as_dict() if self.confirmation else None,
            "notes": self.notes,
            "layers": [layer.as_dict() for layer in self.layers],
            "blocks": [b.as_dict() for b in self.blocks],
            "baseline_samples_us": self.baseline_samples_us,
            "candidate_samples_us": self.candidate_samples_us,
            "candidate_model_id": self.candidate_model_id,
            "baseline_model_id": self.baseline_model_id,
            "history": self.history.as_dict() if self.history else None,
        }

    def stored(self) -> dict[str, Any]:
        """What the store keeps as this night's point of the entry's history."""
        found = self.as_dict()
        for key in ("blocks", "baseline_samples_us", "candidate_samples_us", "history"):
            found.pop(key)
        found["candidate_blocks_us"] = self.candidate_blocks_us
        found["candidate_layer_iterations"] = [
            [
                [t.name, t.type, t.compute_unit, t.execution_time_us, t.execution_cycles]
                for t in layers
            ]
            for layers in self.candidate_layer_iterations[:STORED_LAYER_ITERATIONS]
        ]
        return found


def _candidate_median(result: TargetResult) -> float | None:
    if result.comparison is not None:
        return result.comparison.candidate_median_us
    samples = sorted(result.candidate_samples_us)
    return float(samples[len(samples) // 2]) if samples else None


def stored_layer_iterations(stored: dict[str, Any]) -> tuple[tuple[LayerTiming, ...], ...]:
    """The layer iterations ``TargetResult.stored`` kept, as ``LayerTiming`` rows."""
    rows = stored.get("candidate_layer_iterations") or []
    return tuple(tuple(LayerTiming(n, t, u, float(us), c) for n, t, u, us, c in it) for it in rows)


@dataclass
class SuiteRun:
    """A whole run: the suite, its policy, every target's result, and the stored run id."""

    suite: str
    policy: Policy
    started_at: float
    finished_at: float = 0.0
    results: list[TargetResult] = field(default_factory=list)
    run_id: str | None = None

    @property
    def regressions(self) -> list[TargetResult]:
        return [r for r in self.results if r.verdict == "regression"]

    @property
    def errors(self) -> list[TargetResult]:
        return [r for r in self.results if r.verdict == ERROR]

    @property
    def exit_code(self) -> int:
        """1 a confirmed regression; 3 an entry could not be measured; else 0."""
        if self.regressions:
            return EXIT_REGRESSION
        return EXIT_INTERNAL if self.errors else EXIT_OK

    @property
    def outcome(self) -> str:
        return {EXIT_OK: "pass", EXIT_REGRESSION: "regression"}.get(self.exit_code, "error")

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "policy": asdict(self.policy),
            "results": [r.as_dict() for r in self.results],
        }
