"""One A/B session: baseline and candidate blocks interleaved on one device, repeated
while the verdict is *unknown*, up to the policy's budget.

Paired: both artifacts run in the same session, A B B A A B ... (``plan.pair_arms``),
so whatever the device does over the session (heat, background load, clocks) hits
both. Unpaired: tonight's artifact equals the last good run's, so what may have
changed is the runtime, SDK or device; only the candidate runs, against the stored
samples of that run. The first round is ``min_pairs`` pairs; each *unknown* doubles
the pairs (Pinpoint's schedule: few looks, each with much more data) up to
``max_pairs``. Blocks taken while the device throttled are run but left out, and
count against the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from contract.layers import LayerTiming
from controller.managed import Model
from controller.regress.blocks import Block, block_options, run_block
from controller.regress.plan import Target, pair_arms
from controller.regress.stats import Comparison, Verdict, compare
from controller.regress.suite import Policy
from controller.store import Store


@dataclass(frozen=True)
class StoredBaseline:
    """An unpaired baseline: a stored run's kept samples and layer iterations."""

    run_id: str
    blocks_us: tuple[tuple[int, ...], ...]
    layer_iterations: tuple[tuple[LayerTiming, ...], ...] = ()


@dataclass
class Session:
    """What a session ran and concluded."""

    blocks: list[Block] = field(default_factory=list)
    comparison: Comparison | None = None
    pairs_run: int = 0
    stored: StoredBaseline | None = None

    def kept(self, arm: str) -> list[Block]:
        return [b for b in self.blocks if b.arm == arm and b.discarded is None]

    def samples(self, arm: str) -> list[int]:
        """The arm's kept samples, pooled."""
        return [s for block in self.block_samples(arm) for s in block]

    def block_samples(self, arm: str) -> list[list[int]]:
        """The arm's kept samples, one list per block."""
        if arm == "A" and self.stored is not None:
            return [list(block) for block in self.stored.blocks_us]
        return [list(b.samples_us) for b in self.kept(arm)]

    def layer_iterations(self, arm: str) -> list[Sequence[LayerTiming]]:
        if arm == "A" and self.stored is not None:
            return list(self.stored.layer_iterations)
        return [layers for b in self.kept(arm) for layers in b.layer_iterations]


Measure = Callable[[str, int], Block]  # (arm, index within the arm) -> a measured block


def run_session(
    store: Store,
    target: Target,
    policy: Policy,
    *,
    candidate: Model,
    baseline: Model | StoredBaseline,
    rng: np.random.Generator,
    label: str,
) -> Session:
    """Run blocks on the target's device until the comparison is not *unknown* or the
    budget is spent."""
    models = {"A": baseline, "B": candidate}
    options = block_options(target.entry.options, policy.iterations)

    def measure(arm: str, index: int) -> Block:
        model = models[arm]
        assert isinstance(model, Model)
        return run_block(
            store, model, target.device, arm=arm, index=index, options=options,
            max_temperature_c=policy.max_temperature_c, label=label,
        )  # fmt: skip

    stored = baseline if isinstance(baseline, StoredBaseline) else None
    return adaptive_session(measure, policy, target.entry.threshold, rng, stored=stored)


def adaptive_session(
    measure: Measure,
    policy: Policy,
    threshold: float,
    rng: np.random.Generator,
    *,
    stored: StoredBaseline | None = None,
) -> Session:
    """The session's schedule and decisions, whatever measures the blocks (the runner
    runs profile jobs; ``scripts/bench_regress.py`` draws recorded blocks)."""
    session = Session(stored=stored)
    wanted = policy.min_pairs
    while True:
        while session.pairs_run < wanted:
            arms = ("B",) if stored else pair_arms(session.pairs_run)
            for arm in arms:
                index = len([b for b in session.blocks if b.arm == arm])
                session.blocks.append(measure(arm, index))
            session.pairs_run += 1
        session.comparison = compare(
            session.block_samples("A"), session.block_samples("B"),
            threshold=threshold, alpha=policy.alpha, rng=rng,
        )  # fmt: skip
        if session.comparison.verdict is not Verdict.UNKNOWN or wanted >= policy.max_pairs:
            return session
        wanted = min(policy.max_pairs, wanted * 2)
