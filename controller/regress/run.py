"""Run a suite: resolve, measure, decide across the suite, confirm, blame, store.

1. Everything the user wrote is checked first (devices, files, options, baselines):
   a mistake is a ``UserError`` before any device time is spent.
2. Each device runs its entries one after another, devices in parallel (one thread
   each; the worker runs one job per device, different devices at once).
3. The first sessions' p-values are adjusted across the suite (Benjamini-Hochberg):
   a night of many comparisons keeps its false alarms in check.
4. A regression that survives is confirmed by an independent re-run (a new session,
   fresh blocks) before it can fail the suite, as FAI-PEP re-verifies before it
   reports; one the re-run does not repeat is reported *unknown*.
5. Layers are blamed, the run is stored, and each entry's history is read back with
   its change points for the reports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from controller.errors import Error, UserError
from controller.managed import Model
from controller.regress import outcome
from controller.regress.blame import blame
from controller.regress.blocks import check_options
from controller.regress.history import entry_history
from controller.regress.outcome import ERROR, NEW, SuiteRun, TargetResult
from controller.regress.plan import Target, targets
from controller.regress.session import Session, StoredBaseline, run_session
from controller.regress.stats import Verdict, suite_adjusted
from controller.regress.suite import ModelRef, Suite, load_suite
from controller.store import Store

Progress = Callable[[str], None]


@dataclass
class _Plan:
    """A target with its models resolved: a paired baseline model or a stored run."""

    target: Target
    candidate: Model
    baseline: Model | StoredBaseline | None  # None: no baseline yet (first run)
    baseline_text: str
    rng: np.random.Generator = field(default_factory=np.random.default_rng)


def run_suite(
    suite: Suite | str | Path,
    *,
    candidates: tuple[str, ...] | list[str] = (),
    store: Store | None = None,
    progress: Progress | None = None,
    seed: int | None = None,
) -> SuiteRun:
    """Run a regression suite and store it; the returned run has every verdict.

    Args:
        suite: a parsed ``Suite`` or the path of its TOML file.
        candidates: ``--candidate`` overrides (``FILE`` or ``ENTRY=FILE``).
        store: where jobs and history live (default: the user's store).
        progress: called with one line per block and verdict (the CLI prints them).
        seed: seeds the bootstrap (reproducible confidence intervals).

    Raises:
        UserError: a bad suite, file, option, device or baseline, before anything runs.

    Example:
        run = run_suite("nightly.toml", candidates=["classifier=tonight.onnx"])
        run.exit_code          # 0 no regression, 1 a confirmed one
    """
    if not isinstance(suite, Suite):
        suite = load_suite(suite, tuple(candidates))
    store = store or Store.default()
    say = progress or (lambda line: None)
    started = time.time()
    uploads: dict[str, Model] = {}
    plans = [_plan(store, target, uploads) for target in targets(suite)]
    # One generator per target: targets on different devices run in parallel threads.
    for plan, child in zip(plans, np.random.SeedSequence(seed).spawn(len(plans)), strict=True):
        plan.rng = np.random.default_rng(child)
    results = _in_parallel(plans, lambda p: _first(store, suite, p, say))
    _adjust_across_suite(results)
    to_confirm = [(p, r) for p, r in zip(plans, results, strict=True) if _needs_confirm(suite, r)]
    _in_parallel(to_confirm, lambda pr: _confirm(store, suite, pr[0], pr[1], say))
    run = SuiteRun(suite.name, suite.policy, started, time.time(), results)
    run.run_id = store.add_regress_run(
        suite.name,
        [r.stored() for r in results],
        outcome=run.outcome,
        started_at=started,
        summary={"exit_code": run.exit_code, "path": str(suite.path or "")},
    )
    for result in results:
        found = entry_history(store, result.entry, result.device_serial)
        result.history = found[0] if found else None
    return run


def _plan(store: Store, target: Target, uploads: dict[str, Model]) -> _Plan:
    """Models uploaded (compiled if asked) and the baseline resolved; options checked."""
    entry = target.entry
    candidate = _compiled(_model(entry.model, uploads), target)
    check_options(entry.options, candidate)
    kind = entry.baseline.kind
    if kind == "artifact":
        assert entry.baseline.model is not None
        baseline = _compiled(_model(entry.baseline.model, uploads), target)
        return _Plan(target, candidate, baseline, f"{entry.baseline} (paired A/B)")
    pinned = entry.baseline.run_id if kind == "run" else None
    stored = store.regress_baseline(entry.name, target.serial, pinned)
    if stored is None:
        return _Plan(target, candidate, None, "none yet: this run becomes the first good one")
    import controller as hub

    model_id = stored.get("candidate_model_id")
    what = f"run {stored['run_id']} ({'pinned' if pinned else 'last good'})"
    if model_id and model_id != candidate.model_id:
        model = hub.get_model(model_id)
        if model.sha256 != candidate.sha256:
            return _Plan(target, candidate, model, f"{what}'s model, paired A/B")
    blocks = tuple(tuple(int(s) for s in b) for b in stored.get("candidate_blocks_us") or ())
    if not any(blocks):
        raise UserError(f"entry {entry.name!r}: baseline {what} kept no samples")
    layers = outcome.stored_layer_iterations(stored)
    return _Plan(target, candidate, StoredBaseline(stored["run_id"], blocks, layers),
                 f"{what}'s samples (same artifact: unpaired)")  # fmt: skip


def _model(ref: ModelRef, uploads: dict[str, Model]) -> Model:
    """The model a suite names; a file is uploaded once per run however often it is named."""
    import controller as hub

    if ref.model_id is not None:
        return hub.get_model(ref.model_id)
    assert ref.path is not None
    key = str(ref.path.resolve())
    if key not in uploads:
        uploads[key] = hub.upload_model(ref.path)
    return uploads[key]


def _compiled(model: Model, target: Target) -> Model:
    """The model compiled with the entry's compile options for the target's device."""
    options = target.entry.compile_options
    if options is None:
        return model
    import controller as hub

    job = hub.submit_compile_job(model, target.device, options=options)
    status = job.wait()
    compiled = job.get_target_model() if status.success else None
    if compiled is None:
        raise UserError(f"{target.label}: compile ({options}) failed: {status.message}")
    return compiled  # type: ignore[no-any-return]


def _in_parallel(items: list, work: Callable) -> list:  # type: ignore[type-arg]
    """``work`` on every item; items on one device in order, devices in parallel."""
    results: list = [None] * len(items)  # type: ignore[type-arg]
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        plan = item[0] if isinstance(item, tuple) else item
        groups.setdefault(plan.target.serial, []).append(i)

    def device_loop(indices: list[int]) -> None:
        for i in indices:
            results[i] = work(items[i])

    threads = [threading.Thread(target=device_loop, args=(ix,)) for ix in groups.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _first(store: Store, suite: Suite, plan: _Plan, say: Progress) -> TargetResult:
    """The first session of a target (or its error, as a result)."""
    target = plan.target
    result = TargetResult(
        target.entry.name, target.serial, target.device_name, ERROR, plan.baseline_text,
        paired=isinstance(plan.baseline, Model), threshold_pct=target.entry.threshold_pct,
        candidate_model_id=plan.candidate.model_id,
        baseline_model_id=plan.baseline.model_id if isinstance(plan.baseline, Model) else None,
    )  # fmt: skip
    try:
        session = _session(store, suite, plan, say)
    except Error as exc:
        result.notes.append(f"could not be measured: {exc}")
        say(f"{target.label}: error: {exc}")
        return result
    _take(result, session)
    say(f"{target.label}: {result.verdict} {_said(result)}")
    return result


def _session(store: Store, suite: Suite, plan: _Plan, say: Progress) -> Session:
    baseline, policy = plan.baseline, suite.policy
    if baseline is None:  # nothing to compare with: one round of the candidate alone
        baseline, policy = StoredBaseline("", ()), replace(policy, max_pairs=policy.min_pairs)
    session = run_session(
        store, plan.target, policy, candidate=plan.candidate, baseline=baseline,
        rng=plan.rng, label=plan.target.label,
    )  # fmt: skip
    for block in session.blocks:
        if block.discarded:
            say(f"{plan.target.label}: block {block.arm}{block.index} discarded: {block.discarded}")
    return session


def _take(result: TargetResult, session: Session) -> None:
    """Fill a result from its first session."""
    result.blocks = list(session.blocks)
    result.baseline_samples_us = session.samples("A")
    result.candidate_samples_us = session.samples("B")
    result.candidate_blocks_us = session.block_samples("B")
    result.candidate_layer_iterations = [list(it) for it in session.layer_iterations("B")]
    discarded = [b for b in session.blocks if b.discarded]
    if discarded:
        result.notes.append(
            f"{len(discarded)} of {len(session.blocks)} blocks discarded (throttling)"
        )
    if not result.baseline_samples_us:
        result.verdict = NEW
        result.notes.append("no baseline yet: stored as the first good run")
        return
    result.comparison = session.comparison
    assert session.comparison is not None
    result.verdict = session.comparison.verdict.value
    result.layers = blame(session.layer_iterations("A"), session.layer_iterations("B"))
    if session.comparison.verdict is Verdict.UNKNOWN:
        result.notes.append(f"still unknown after {session.pairs_run} block pairs (the budget)")


def _adjust_across_suite(results: list[TargetResult]) -> None:
    compared = [r for r in results if r.comparison is not None]
    adjusted = suite_adjusted([r.comparison for r in compared])  # type: ignore[misc]
    for result, comparison in zip(compared, adjusted, strict=True):
        if result.verdict == "regression" and comparison.verdict is not Verdict.REGRESSION:
            result.notes.append(
                f"not significant across the suite's {len(compared)} comparisons "
                f"(adjusted p={comparison.p_value:.2g})"
            )
        result.comparison = comparison
        result.verdict = comparison.verdict.value


def _needs_confirm(suite: Suite, result: TargetResult) -> bool:
    return suite.policy.confirm and result.verdict == "regression"


def _confirm(
    store: Store,
    suite: Suite,
    plan: _Plan,
    result: TargetResult,
    say: Progress,
) -> None:
    """An independent re-run; the regression stands only if it repeats."""
    say(f"{result.label}: regression; confirming with an independent re-run")
    try:
        session = _session(store, suite, plan, say)
    except Error as exc:
        result.verdict, result.notes = ERROR, [*result.notes, f"the confirmation failed: {exc}"]
        return
    assert session.comparison is not None
    result.confirmation = session.comparison
    for block in session.blocks:
        block.session = 1
    result.blocks += session.blocks
    if session.comparison.verdict is Verdict.REGRESSION:
        result.notes.append(f"confirmed by a re-run: {session.comparison.describe()}")
    else:
        result.verdict = Verdict.UNKNOWN.value
        result.notes.append(f"not confirmed: the re-run said {session.comparison.verdict.value}")
    say(f"{result.label}: {result.verdict} after the re-run {_said(result)}")


def _said(result: TargetResult) -> str:
    c = result.confirmation or result.comparison
    return f"({c.describe()})" if c else ""
