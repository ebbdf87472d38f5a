"""The cloud service's predictive stop rule, as arithmetic."""

from __future__ import annotations

import pytest

from agent.session import should_stop


def test_first_iteration_always_runs_even_over_budget() -> None:
    assert not should_stop(0, 100.0, 1.0)


@pytest.mark.parametrize(
    ("done", "elapsed", "budget", "stop"),
    [
        (4, 8.0, 10.0, False),  # average 2 s: 8 + 2 = 10, exactly on budget: run it
        (4, 8.5, 10.0, True),  # 8.5 + 2.125 > 10
        (100, 1.0, 600.0, False),
        (1, 0.6, 1.0, True),  # one 0.6 s iteration predicts 1.2 s
    ],
)
def test_stop_when_next_iteration_is_predicted_to_overshoot(
    done: int, elapsed: float, budget: float, stop: bool
) -> None:
    assert should_stop(done, elapsed, budget) is stop
