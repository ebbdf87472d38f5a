"""Suite files as a lab writes them, and every mistake named before a device is used."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import UserError
from controller.regress.suite import LAST_GOOD, load_suite

MINIMAL = """
[[entry]]
name = "classifier"
model = "candidate.onnx"      # what tonight brought
baseline = "baseline.onnx"    # paired A/B against this artifact
device = "local"
options = "--compute_unit cpu"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("candidate.onnx", "baseline.onnx", "tonight.onnx"):
        (tmp_path / name).write_bytes(b"onnx")
    return tmp_path


def _suite(folder: Path, text: str) -> Path:
    path = folder / "nightly.toml"
    path.write_text(text)
    return path


def test_the_minimal_suite_of_the_issue(folder: Path) -> None:
    suite = load_suite(_suite(folder, MINIMAL))
    (entry,) = suite.entries
    assert suite.name == "nightly"
    assert entry.model.path == folder / "candidate.onnx"
    assert (
        entry.baseline.kind == "artifact" and entry.baseline.model.path == folder / "baseline.onnx"
    )
    assert entry.devices == ("local",) and entry.options == "--compute_unit cpu"
    assert entry.threshold_pct == suite.policy.threshold_pct == 3.0


def test_policy_defaults_overrides_and_baseline_kinds(folder: Path) -> None:
    text = """
[policy]
threshold_pct = 5
max_pairs = 20
[[entry]]
name = "a"
model = "candidate.onnx"
device = ["Samsung Galaxy S23", "sim:SM8550"]
threshold_pct = 2.5
[[entry]]
name = "b"
model = "candidate.onnx"
baseline = "run:rabcdefgh"
attributes = ["chipset:sm8550"]
"""
    a, b = load_suite(_suite(folder, text)).entries
    assert a.baseline.kind == LAST_GOOD and a.threshold == 0.025
    assert a.devices == ("Samsung Galaxy S23", "sim:SM8550")
    assert b.baseline.run_id == "rabcdefgh" and b.threshold_pct == 5.0
    assert b.devices == () and b.attributes == ("chipset:sm8550",)


def test_candidate_flags_replace_models(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    path = _suite(folder, MINIMAL)
    (entry,) = load_suite(path, ["tonight.onnx"]).entries
    assert entry.model.path == folder / "tonight.onnx"
    (entry,) = load_suite(path, ["classifier=tonight.onnx"]).entries
    assert entry.model.path == folder / "tonight.onnx"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL.replace("options", "optoins"), "unknown key 'optoins' (did you mean 'options'?)"),
        (MINIMAL.replace("candidate.onnx", "missing.onnx"), "'missing.onnx' is neither a file"),
        (MINIMAL + MINIMAL, "two entries are named 'classifier'"),
        ("[policy]\nalpha = 2\n" + MINIMAL, "alpha must be between 0 and 1"),
        ("[policy]\nmin_pairs = 8\nmax_pairs = 4\n" + MINIMAL, "min_pairs <= max_pairs"),
        ("[policy]\niterations = 'many'\n" + MINIMAL, "iterations must be int"),
        ("[policy]\nmax_pairs = 4\n" + MINIMAL, "max_pairs=4 can never show a regression"),
        (MINIMAL.replace('device = "local"', "device = 3"), "device must be a string"),
        (MINIMAL.replace('name = "classifier"', ""), "name is required"),
        ("name = 'x'\n", "no [[entry]] tables"),
        ("[[entry]\n", "not valid TOML"),
    ],
)
def test_mistakes_are_named(folder: Path, text: str, message: str) -> None:
    with pytest.raises(UserError, match="nightly.toml") as caught:
        load_suite(_suite(folder, text))
    assert message in str(caught.value)


def test_a_candidate_for_an_unknown_entry_is_refused(folder: Path) -> None:
    with pytest.raises(UserError, match="has no entry 'clasifier'"):
        load_suite(_suite(folder, MINIMAL), ["clasifier=tonight.onnx"])


def test_a_missing_suite_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read it"):
        load_suite(tmp_path / "nope.toml")
