"""What the nightly regression comparator promises, measured: false alarms, detection,
blame and change points, on model pairs whose real cost difference is known.

Models: a stack of 3x3 convolutions (``controller/samples/regress_models.py``) whose
``conv3`` is made wider (its kernel grows from 1x1 to 1x2, 1x3, 2x2, ...); the
rest of the network and every name and shape stay the same. ``--runtime onnx``
(default) runs the ONNX stack on ONNX Runtime's CPU EP; ``--runtime tflite`` a
LiteRT stack on one thread. Each variant's real cost is *measured* here against
the base model's (LiteRT: the median of its block medians; ONNX Runtime: its
fastest block's median, since its blocks run at two speeds here, see
``fast_level``), and the variants nearest +2 %, +5 % and +10 % stand for those rows.

How the samples are taken (and why the figures stay honest):
1. Recording: every variant (and the base model) runs ``--blocks`` real profile jobs
   on this host (``device = "local"``, ``--compute_unit cpu``), ``--iterations``
   timed iterations each, through the public API, the worker and the agent, exactly
   as a suite's blocks run. Variants are recorded round robin, in a new random
   order every round, so what the host does over the recording (other processes,
   heat) falls on every variant alike.
2. Comparisons: each comparison is one run of the production session code
   (``controller.regress.session.adaptive_session``: first ``min_pairs`` pairs, the
   pairs doubled while *unknown* up to ``max_pairs``, the same verdict function),
   and, for a regression, a second such session as the confirmation re-run. Its
   blocks are *whole recorded blocks*: pair i takes the baseline's and the
   candidate's block of one recorded round (seconds apart, as a session's adjacent
   blocks are; rounds drawn without replacement within a comparison). A/A compares
   two identical artifacts ("base" and "copy", same bytes) recorded as two models.
   So block-to-block variation, what makes A/A runs cry wolf, is kept, and so is
   the pairing. When a comparison needs more rounds than were recorded, the rounds
   are reshuffled and reused (the count is printed).
3. Change points: 60-night histories whose night value is the median of 3 recorded
   blocks (what a nightly session of ``min_pairs`` = 3 stores), base model before
   the step night, a +5 % or +10 % variant from it on; Otava must find the step at
   the right night +-1. Flat histories count false steps.
4. Simulated Snapdragon (``--sim``): a few variants on ``sim:SM8550``'s HTP
   simulator; its per-op cycle counts are a second signal (not constant per
   iteration here: the simulator's DMA and cache model varies): the comparator
   runs on per-iteration total cycles, and blame on per-op cycles.

    .venv/bin/python scripts/bench_regress.py [--blocks 36] [--comparisons 200] [--sim]
        [--save blocks.pickle | --load blocks.pickle]   # record once, analyse again
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KERNELS = {
    "base": (1, 1),
    "copy": (1, 1),  # the same bytes as base: the A/A pair
    "1x2": (1, 2),
    "1x3": (1, 3),
    "2x2": (2, 2),
    "2x3": (2, 3),
    "3x3": (3, 3),
}
# LiteRT, one thread (--runtime tflite): square kernels only (controller/samples/tflite_models.py).
TFLITE_KERNELS = {"base": 1, "copy": 1, "2x2": 2, "3x3": 3, "4x4": 4}
WIDENED = 3  # the conv whose kernel grows
TARGETS_PCT = (2.0, 5.0, 10.0)


def record(
    models: dict[str, Path],
    blocks: int,
    iterations: int,
    device: str,
    options: str,
    rng: np.random.Generator,
) -> dict[str, list]:
    """``blocks`` real blocks per model, round robin in a random order each round."""
    import controller as hub
    from controller.regress.blocks import block_options, run_block
    from controller.store import Store

    store, pools = Store.default(), {name: [] for name in models}
    uploaded = {name: hub.upload_model(path) for name, path in models.items()}
    started = time.monotonic()
    for round_ in range(blocks):
        for name in rng.permutation(list(models)):
            pools[name].append(
                run_block(
                    store,
                    uploaded[name],
                    hub.Device(device),
                    arm="A",
                    index=round_,
                    options=block_options(options, iterations),
                    max_temperature_c=90.0,
                    label=f"bench {name}",
                )
            )
        if round_ % 6 == 5:
            print(
                f"  recorded {round_ + 1}/{blocks} rounds ({time.monotonic() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    return pools


def fast_level(blocks: list) -> float:
    """A model's cost in the host's fast state: the lowest of its block medians.

    Blocks here ran in two speed states (onnxruntime's two intra-op threads on 2 busy
    cores: block medians ~450 us or ~830 us for the base model, in shares that changed
    from one recording to the next), so a pooled median, or any quantile, lands in
    either state by chance; within a state the variants are cleanly ordered. Each of
    36 blocks had a fast one in every recording."""
    return float(min(np.median(b.samples_us) for b in blocks))


def typical_level(blocks: list) -> float:
    """A model's cost where blocks are one population (LiteRT on one thread): the
    median of its block medians."""
    return float(np.median([np.median(b.samples_us) for b in blocks]))


def pooled_median(blocks: list) -> float:
    return float(np.median([s for b in blocks for s in b.samples_us]))


class Drawer:
    """Recorded rounds, without replacement within one comparison: pair ``i`` of a
    session takes the baseline's and the candidate's blocks of one recorded round
    (measured seconds apart, as a session's adjacent blocks are), so the pairing that
    makes drift hit both arms is kept."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.reused = rng, 0

    def comparison(self, pool_a: list, pool_b: list) -> Callable[[str, int], object]:
        from dataclasses import replace

        rounds: list[int] = []
        taken: dict[int, int] = {}  # pair index -> round

        def measure(arm: str, index: int) -> object:
            if index not in taken:
                if not rounds:
                    self.reused += bool(taken)
                    rounds.extend(self.rng.permutation(len(pool_a)))
                taken[index] = int(rounds.pop())
            pool = pool_a if arm == "A" else pool_b
            return replace(pool[taken[index]], arm=arm, index=index)

        return measure


def one_comparison(draw: Callable, policy, threshold: float, rng) -> tuple[str, object, int]:
    """First session, then the confirmation re-run for a regression (as ``run_suite``)."""
    from controller.regress.session import adaptive_session
    from controller.regress.stats import Verdict

    first = adaptive_session(draw, policy, threshold, rng)
    blocks = len(first.blocks)
    if first.comparison.verdict is not Verdict.REGRESSION:
        return first.comparison.verdict.value, first, blocks
    again = adaptive_session(draw, policy, threshold, rng)
    confirmed = again.comparison.verdict is Verdict.REGRESSION
    return ("regression" if confirmed else "unknown"), first, blocks + len(again.blocks)


def blame_hits(session, expected: set[str]) -> bool:
    from controller.regress.blame import blame

    top = blame(session.layer_iterations("A"), session.layer_iterations("B"), top=1)
    return bool(top) and (top[0].name in expected or top[0].baseline_name in expected)


def widened_layer_names(pools: dict[str, list]) -> set[str]:
    """The name the runtime gave conv3 in each variant: the 4th convolution in execution
    order (XNNPACK runs a 1x1 convolution as a "Fully Connected" GEMM)."""
    names = set()
    for blocks in pools.values():
        layers = blocks[0].layer_iterations[0]
        convs = [t.name for t in layers if "Conv" in t.type or "Fully Connected" in t.type]
        names.add(convs[WIDENED])
    return names


def comparisons(pools, costs, args, policy, rng) -> dict[str, dict]:
    drawer, rows = Drawer(rng), {}
    expected = widened_layer_names(pools)
    chosen = {"A/A": "copy"} | {f"+{t:g} %": nearest(costs, t) for t in TARGETS_PCT}
    for label, variant in chosen.items():
        verdicts, blamed, blocks = [], [], []
        for _ in range(args.comparisons):
            draw = drawer.comparison(pools["base"], pools[variant])
            verdict, first, used = one_comparison(draw, policy, policy.threshold, rng)
            verdicts.append(verdict)
            blocks.append(used)
            if verdict == "regression" and variant != "copy":
                blamed.append(blame_hits(first, expected))
        print(f"  {label}: {args.comparisons} comparisons done", file=sys.stderr, flush=True)
        rows[label] = {"variant": variant, "verdicts": verdicts, "blamed": blamed, "blocks": blocks}
    rows["reused"] = {"count": drawer.reused}
    return rows


def nearest(costs: dict[str, float], target: float) -> str:
    variants = (v for v in costs if v not in ("base", "copy"))
    return min(variants, key=lambda v: abs(costs[v] - target))


def history_hits(pools, costs, rng, histories: int) -> dict[str, tuple[int, int]]:
    from controller.regress.history import change_points

    def night(pool: list) -> float:
        picks = rng.choice(len(pool), size=3, replace=False)
        return pooled_median([pool[i] for i in picks])

    found = {}
    for target in (5.0, 10.0):
        variant, hits = nearest(costs, target), 0
        for _ in range(histories):
            step = int(rng.integers(10, 51))
            series = [night(pools["base"] if i < step else pools[variant]) for i in range(60)]
            hits += any(abs(s.index - step) <= 1 for s in change_points(series))
        found[f"+{target:g} % ({variant}, measured {costs[variant]:+.1f} %)"] = (hits, histories)
    flat = sum(
        bool(change_points([night(pools["base"]) for _ in range(60)])) for _ in range(histories)
    )
    found["flat (no step): histories with a false step"] = (flat, histories)
    return found


def simulated(models: dict[str, Path], args, rng) -> list[str]:
    """Per-iteration total cycles on the HTP simulator: the comparator and blame on them."""
    from contract.layers import LayerTiming
    from controller.regress.blame import blame
    from controller.regress.stats import compare

    pools = record(models, args.sim_blocks, 3, "sim:SM8550", "--compute_unit npu", rng)

    def cycles(blocks: list) -> list[list[float]]:
        return [
            [sum(t.execution_cycles or 0 for t in it) for it in b.layer_iterations] for b in blocks
        ]

    def as_cycles(blocks: list) -> list[list[LayerTiming]]:
        return [
            [
                LayerTiming(t.name, t.type, t.compute_unit, float(t.execution_cycles or 0))
                for t in it
            ]
            for b in blocks
            for it in b.layer_iterations
        ]

    base = cycles(pools["base"])
    lines = [
        f"| {'variant':8} | cycles vs base | verdict on cycles | top layer by cycles |",
        "|---|---|---|---|",
    ]
    for name in models:
        c = compare(base, cycles(pools[name]), threshold=0.03, alpha=0.01, rng=rng)
        top = blame(as_cycles(pools["base"]), as_cycles(pools[name]), top=1)
        where = f"{top[0].name} {top[0].delta_us:+.0f} cycles" if top and name != "base" else "-"
        lines.append(f"| {name:8} | {c.change_pct:+.1f} % | {c.verdict.value} | {where} |")
    return lines


def table(rows, costs, histories, args, seconds: float) -> list[str]:
    def pct(k: int, n: int) -> str:
        return f"{100 * k / n:.1f} % ({k}/{n})" if n else "n/a"

    aa = rows["A/A"]["verdicts"]
    out = [
        "| measure | target | result |",
        "|---|---|---|",
        f"| A/A false regression rate ({len(aa)} comparisons) | <= 1 % | "
        f"{pct(aa.count('regression'), len(aa))}; same {pct(aa.count('same'), len(aa))}, "
        f"unknown {pct(aa.count('unknown'), len(aa))} |",
    ]
    blamed_all: list[bool] = []
    for target in TARGETS_PCT:
        row = rows[f"+{target:g} %"]
        v, goal = row["verdicts"], ">= 95 %" if target >= 5 else "report"
        blamed_all += row["blamed"]
        out.append(
            f"| detection +{target:g} % ({row['variant']}: measured "
            f"{costs[row['variant']]:+.1f} %) | {goal} | {pct(v.count('regression'), len(v))};"
            f" unknown {pct(v.count('unknown'), len(v))}; mean blocks "
            f"{statistics.mean(row['blocks']):.1f} |"
        )
    out.append(
        f"| blame names the widened layer (detected cases) | >= 95 % | "
        f"{pct(sum(blamed_all), len(blamed_all))} |"
    )
    for label, (hits, n) in histories.items():
        goal = "0" if label.startswith("flat") else "step night +-1"
        out.append(f"| change point, 60 nights, {label} | {goal} | {pct(hits, n)} |")
    out.append(f"| blocks reused from a reshuffled pool | - | {rows['reused']['count']} |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=36, help="recorded blocks per model")
    parser.add_argument("--iterations", type=int, default=20, help="timed iterations per block")
    parser.add_argument("--comparisons", type=int, default=200, help="per row")
    parser.add_argument("--histories", type=int, default=40, help="60-night histories per row")
    parser.add_argument("--sim", action="store_true", help="also the simulated SM8550 (cycles)")
    parser.add_argument("--sim-blocks", type=int, default=6, help="blocks per model on the sim")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument(
        "--runtime",
        choices=("onnx", "tflite"),
        default="onnx",
        help="onnx: ONNX Runtime CPU EP (its default threads); tflite: LiteRT, one thread",
    )
    parser.add_argument(
        "--max-pairs", type=int, help="the policy's pair budget (default: a suite's default)"
    )
    parser.add_argument("--save", type=Path, help="pickle the recorded blocks here")
    parser.add_argument("--load", type=Path, help="analyse blocks recorded with --save")
    args = parser.parse_args()
    os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="bench-regress-"))
    os.environ.setdefault("DEVICELAB_WORKER", "inprocess")
    from controller.regress.suite import Policy
    from controller.samples.regress_models import write_conv_stack, write_conv_stack_tflite

    rng = np.random.default_rng(args.seed)
    policy = Policy()  # the defaults a suite gets: 3..12 pairs, 3 %, alpha 0.01
    if args.max_pairs is not None:
        policy = dataclasses.replace(policy, max_pairs=args.max_pairs)
    folder = Path(tempfile.mkdtemp(prefix="bench-regress-models-"))
    if args.runtime == "tflite":
        shape = {"channels": 16, "size": 32, "depth": 16}
        options = "--compute_unit cpu --tflite_options number_of_threads=1"
        models = {
            n: write_conv_stack_tflite(folder / f"{n}.tflite", kernels={WIDENED: k}, **shape)
            for n, k in TFLITE_KERNELS.items()
        }
    else:
        shape = {"channels": 32, "size": 32, "depth": 8}
        options = "--compute_unit cpu"
        models = {
            n: write_conv_stack(folder / f"{n}.onnx", kernels={WIDENED: k}, **shape)
            for n, k in KERNELS.items()
        }
    started = time.monotonic()
    print(
        f"recording {args.blocks} blocks x {args.iterations} iterations of {len(models)} "
        f"models on this host; load average {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    if args.load:
        pools = pickle.loads(args.load.read_bytes())
    else:
        pools = record(models, args.blocks, args.iterations, "local", options, rng)
    if args.save:
        args.save.write_bytes(pickle.dumps(pools))
    level = typical_level if args.runtime == "tflite" else fast_level
    what = "median of block medians" if args.runtime == "tflite" else "fastest block's median"
    base = level(pools["base"])
    costs = {n: (level(b) / base - 1) * 100 for n, b in pools.items()}
    recorded_s = time.monotonic() - started
    rows = comparisons(pools, costs, args, policy, rng)
    histories = history_hits(pools, costs, rng, args.histories)
    compared_s = time.monotonic() - started - recorded_s
    print(
        f"\nHost: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
        f"recording took {recorded_s:.0f} s, comparisons {compared_s:.0f} s"
    )
    print(
        f"Model ({args.runtime}: {options}): {shape['depth']} conv 3x3 layers, "
        f"{shape['channels']} channels, "
        f"{shape['size']}x{shape['size']}; conv{WIDENED}'s kernel widened. Base "
        f"{base:.0f} us ({what}). Measured cost per variant (the same): "
        + ", ".join(f"{n} {c:+.1f} %" for n, c in costs.items() if n != "base")
    )
    print(
        f"Policy: threshold {policy.threshold_pct:g} %, alpha {policy.alpha:g}, "
        f"{policy.min_pairs}..{policy.max_pairs} pairs of {args.iterations}-iteration blocks, "
        "confirmation re-run\n"
    )
    print("\n".join(table(rows, costs, histories, args, recorded_s)))
    if args.sim:
        sim_models = {
            n: write_conv_stack(
                folder / f"sim-{n}.onnx", kernels={WIDENED: k}, channels=16, size=16, depth=8
            )
            for n, k in KERNELS.items()
            if n in ("base", "copy", "1x3", "2x2", "3x3")
        }
        print("\nSimulated Snapdragon 8 Gen 2 (sim:SM8550, HTP simulator), per-iteration cycles:")
        print("\n".join(simulated(sim_models, args, rng)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
