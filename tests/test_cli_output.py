"""What the CLI writes is readable by other programs: strict JSON, quiet when piped."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from controller.cli._common import json_text


def test_json_output_writes_null_where_python_would_write_bare_nan() -> None:
    text = json_text({"median_us": float("nan"), "range": (1.0, float("inf")), "n": 0})
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"median_us": None, "range": [1.0, None], "n": 0}


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    # `true` exits before devicelab writes a byte: every write meets a closed pipe.
    done = subprocess.run(
        f"{sys.executable} -m controller.cli options | true",
        shell=True, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_a_single_job_option_is_taken_as_the_options_value() -> None:
    from controller.cli import build_parser, join_option_values

    argv = ["infer", "m.onnx", "--input", "image=x.npy", "--options", "--dequantize_outputs"]
    args = build_parser().parse_args(join_option_values(argv))
    assert args.options == "--dequantize_outputs" and args.input == ["image=x.npy"]


def test_a_device_root_a_shell_would_split_is_refused_naming_the_setting() -> None:
    import pytest

    from controller.errors import UserError
    from controller.transports.adb import AdbDeviceConfig

    for root in ("/data/local/tmp/my lab", "/data/local/tmp/x;rm -rf /", "relative/dir"):
        with pytest.raises(UserError, match="DEVICELAB_DEVICE_ROOT="):
            AdbDeviceConfig(root=root)
    assert AdbDeviceConfig(root="/data/local/tmp/devicelab-2").root.endswith("-2")


def test_a_push_in_a_log_is_one_line_written_once_the_device_confirmed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from controller.cli.progress import UploadBar

    bar = UploadBar(quiet=False)
    for done in range(0, 5_000_000, 1_000_000):  # the bytes sent, before the device's OKAY
        bar(done, 5_000_000)
    assert capsys.readouterr().err == ""
    bar(5_000_000, 5_000_000)  # adb_sync reports the total only after the OKAY
    assert capsys.readouterr().err == f"push [{'#' * 30}] 5.0 MB/5.0 MB\n"
