"""The vendor-tool path (qnn-net-run, qnn-profile-viewer, benchmark_model).

The tools cannot be had on this machine, so:
* the parsers read real output samples stored in ``tests/data/vendor_tools``
  (its README names where each came from);
* the runners are the real code, driving stand-in executables written here:
  small Python scripts that check their command line the way the real tool
  would and print a stored real sample. Only the vendor binary is replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import events
from agent.errors import (
    AgentError,
    DelegateError,
    InvalidOptionError,
    MissingLibraryError,
)
from agent.runtimes.base import RunConfig
from agent.runtimes.vendor import BENCHMARK_MODEL, QNN_NET_RUN, vendor_profile_job, vendor_tool_for
from agent.runtimes.vendor._process import ToolTimeoutError, run_tool
from agent.runtimes.vendor.benchmark_flags import attempts
from agent.runtimes.vendor.benchmark_model import (
    op_layers,
    parse_benchmark_output,
    require_benchmark_model,
)
from agent.runtimes.vendor.jobs import runs_within_budget, trim_to_budget
from agent.runtimes.vendor.qnn_net_run import require_qnn_tools
from agent.runtimes.vendor.qnn_options import NET_RUN_OPTIONS, plan_net_run_options
from agent.runtimes.vendor.qnn_profile_viewer import (
    execution_latencies_us,
    layers_of,
    parse_viewer_csv,
    parse_viewer_text,
)
from agent.session import ProfilePlan
from agent.sub_options import parse_qnn_options
from contract.option_tables import QNN_SUB_OPTIONS
from tests.vendor_standins import (
    BENCHMARK_STANDIN,
    MI11_FAILURE,
    MI11_PROFILE,
    MOBILENET,
    VIEWER_CSV,
    VIEWER_TEXT,
    executable,
    write_qnn_sdk,
)


@pytest.fixture
def argv_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("STANDIN_LOG", str(log))
    return log


def _calls(log: Path, tool: str) -> list[list[str]]:
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return [c for c in calls if Path(c[0]).name == tool]


@pytest.fixture
def qnn_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A QNN SDK layout holding the stand-in tools and placeholder backend libraries."""
    root = write_qnn_sdk(tmp_path / "qnn-sdk")
    monkeypatch.setenv("QNN_SDK_ROOT", str(root))
    return root


@pytest.fixture
def benchmark_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tool = executable(tmp_path / "tools" / "benchmark_model", BENCHMARK_STANDIN)
    monkeypatch.setenv("DEVICELAB_BENCHMARK_MODEL", str(tool))
    return tool


def _config(tmp_path: Path, **kwargs: object) -> RunConfig:
    return RunConfig(workdir=tmp_path / "work", **kwargs)  # type: ignore[arg-type]


def _run_job(model: Path, config: RunConfig, plan: ProfilePlan) -> list[events.ProfileEvent]:
    return list(vendor_profile_job(model, config, plan))


def _of(stream: list[events.ProfileEvent], kind: type) -> list:
    return [event for event in stream if isinstance(event, kind)]


# --------------------------------------------------------------------------------------
# Parsers on real samples
# --------------------------------------------------------------------------------------


def test_viewer_text_gives_stage_times_execute_averages_and_throughput() -> None:
    summary = parse_viewer_text(VIEWER_TEXT.read_text())
    assert summary.stage_us == {
        "Init": 331158,
        "Compose Graphs": 74748,
        "Finalize": 256372,
        "De-Init": 15810,
    }
    assert summary.load_us == 331158 + 74748 + 256372
    assert summary.netrun_average_us == 2952
    assert summary.execute_average["QNN (execute) time"] == (2949, "us")
    assert summary.execute_average["Number of HVX threads used"] == (4, "count")
    assert summary.inferences_per_s == pytest.approx(214.8888)


def test_viewer_text_per_op_cycle_lines_become_op_cycles() -> None:
    # The per-op line format as a public qnn-profile-viewer write-up quotes it.
    text = VIEWER_TEXT.read_text().replace(
        "    Backend (QNN (execute) time): 2949 us\n",
        "    Backend (QNN (execute) time): 2949 us\n"
        "    Backend (/model/basenet/slice1/0/Conv:OpId_27 (cycles)): 0 cycles\n",
    )
    assert parse_viewer_text(text).op_cycles == {"/model/basenet/slice1/0/Conv:OpId_27": 0}


def test_viewer_csv_gives_one_execution_per_inference_with_op_cycles() -> None:
    executions = parse_viewer_csv(VIEWER_CSV)
    assert execution_latencies_us(executions) == [70424, 71940, 54998, 3015]
    first = executions[0]
    assert [op.name for op in first.ops][:3] == [
        "Input OpId_2",
        "Transpose_token_17",
        "conv1_token_1",
    ]
    assert first.accelerator_cycles == 3393392
    layers = layers_of(first, "NPU")
    assert {layer.compute_unit for layer in layers} == {"NPU"}
    conv = next(layer for layer in layers if layer.name == "conv2_token_7")
    assert conv.execution_cycles == 237895
    # HTP times an op only through its share of the accelerator's cycles.
    assert sum(layer.execution_time_us for layer in layers) == pytest.approx(70129, rel=0.01)


def test_viewer_csv_with_padded_columns_reads_the_same(tmp_path: Path) -> None:
    padded = tmp_path / "padded.csv"
    padded.write_text(VIEWER_CSV.read_text().replace(",", ", "))
    assert parse_viewer_csv(padded) == parse_viewer_csv(VIEWER_CSV)


def test_benchmark_output_timings_memory_and_run_statistics() -> None:
    out = parse_benchmark_output(MOBILENET.read_text())
    assert (out.init_us, out.first_inference_us) == (17187, 3512391)
    assert out.warmup_avg_us == pytest.approx(3.51239e6)
    assert out.inference_avg_us == pytest.approx(2.95034e6)
    assert out.runs is not None and out.runs.count == 50
    assert out.runs.get("min") == 2727568 and out.runs.get("std") == 109798
    assert out.warmup is not None and out.warmup.count == 1
    assert out.init_memory_bytes == int(4.21094 * 1024 * 1024)
    assert out.failure is None


def test_benchmark_op_rows_add_up_to_the_profiled_run() -> None:
    out = parse_benchmark_output(MOBILENET.read_text())
    assert len(out.ops) == 31
    assert out.ops[0].name == "MobilenetV1/MobilenetV1/Conv2d_0/Relu6"
    assert out.ops[0].node_type == "CONV_2D" and out.ops[0].index == 0
    layers = op_layers(out.ops, "GPU")
    assert {layer.compute_unit for layer in layers} == {"CPU"}  # no delegate node
    assert out.op_runs is not None
    total = sum(layer.execution_time_us for layer in layers)
    assert total == pytest.approx(out.op_runs.get("avg"), rel=0.001)


def test_benchmark_delegate_nodes_take_the_delegates_compute_unit() -> None:
    out = parse_benchmark_output(MI11_PROFILE.read_text())
    layers = op_layers(out.ops, "GPU")
    delegated = [layer for layer in layers if layer.compute_unit == "GPU"]
    assert [layer.type for layer in delegated] == ["TfLiteNnapiDelegate"] * 3
    assert delegated[0].execution_time_us == pytest.approx(83750)
    assert len(layers) == 14


def test_benchmark_failure_output_is_recognised() -> None:
    out = parse_benchmark_output(MI11_FAILURE.read_text())
    assert out.failure is not None and "Failed to apply NNAPI delegate." in out.failure
    assert out.runs is None


# --------------------------------------------------------------------------------------
# Option mapping
# --------------------------------------------------------------------------------------


def test_every_qnn_sub_option_has_a_net_run_rule() -> None:
    assert list(NET_RUN_OPTIONS) == list(QNN_SUB_OPTIONS)


def test_qnn_options_map_to_perf_profile_config_keys_and_named_warnings() -> None:
    plan = plan_net_run_options(
        parse_qnn_options(
            {
                "context_priority": "HIGH",
                "default_graph_htp_vtcm_size": "8",
                "context_error_reporting_options_level": "DETAILED",
            }
        ),
        "htp",
        context_binary=False,
    )
    assert plan.perf_profile == "burst"  # the cloud service's default, applied
    assert plan.context_configs == {"context_priority": "high"}
    assert plan.htp_graph == {"vtcm_mb": 8}
    assert plan.warnings == [
        "qnn_options context_error_reporting_options_level=DETAILED not applied: qnn-net-run "
        "has no flag or config key devicelab knows for it"
    ]


def test_graph_options_on_a_context_binary_say_they_were_fixed_at_compile_time() -> None:
    plan = plan_net_run_options(
        parse_qnn_options({"default_graph_htp_precision": "FLOAT16"}), "htp", context_binary=True
    )
    assert plan.htp_graph == {}
    assert "finalized when it was compiled" in plan.warnings[0]


def test_htp_only_options_warn_on_the_gpu_backend() -> None:
    plan = plan_net_run_options(
        parse_qnn_options({"context_htp_performance_mode": "BALANCED"}), "gpu", False
    )
    assert plan.perf_profile is None
    assert "HTP only" in plan.warnings[0]


def test_a_bad_qnn_option_value_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="context_priority"):
        plan_net_run_options(parse_qnn_options({"context_priority": "URGENT"}), "htp", False)


def test_tflite_qnn_delegate_becomes_external_delegate_flags(tmp_path: Path) -> None:
    (tmp_path / "libQnnTFLiteDelegate.so").write_bytes(b"placeholder")
    config = _config(
        tmp_path,
        tflite_delegates=("qnn",),
        tflite_options={"qnn_htp_performance_mode": "kHtpHighPerformance"},
        library_dirs=(str(tmp_path),),
    )
    tried, fallbacks = attempts(config)
    assert [a.delegate for a in tried] == ["qnn", None] and fallbacks == []
    flags = tried[0].flags
    assert f"--external_delegate_path={tmp_path / 'libQnnTFLiteDelegate.so'}" in flags
    options = next(f for f in flags if f.startswith("--external_delegate_options="))
    assert "backend_type:htp" in options and "htp_performance_mode:3" in options
    assert tried[0].compute_unit == "NPU"


def test_tflite_gpu_and_nnapi_options_become_flags_or_warnings(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        tflite_delegates=("gpu", "nnapi-gpu"),
        tflite_options={
            "gpu_inference_preference": "TFLITE_GPU_INFERENCE_PREFERENCE_BALANCED",
            "nnapi_execution_preference": "kLowPower",
            "number_of_threads": "2",
        },
    )
    gpu, nnapi, cpu = attempts(config)[0]
    assert {"--use_gpu=true", "--num_threads=2", "--use_xnnpack=false"} <= set(gpu.flags)
    assert any("gpu_inference_preference" in w for w in gpu.warnings)
    assert "--nnapi_accelerator_name=qti-gpu" in nnapi.flags
    assert "--nnapi_execution_preference=low_power" in nnapi.flags
    assert cpu.delegate is None


def test_missing_qnn_delegate_library_falls_back_or_fails_by_enable_fallback(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, tflite_delegates=("qnn", "gpu"))
    tried, fallbacks = attempts(config)
    assert [a.delegate for a in tried] == ["gpu", None]
    assert fallbacks[0].startswith("qnn: libQnnTFLiteDelegate.so not found")
    config.tflite_options = {"enable_fallback": "false"}
    with pytest.raises(MissingLibraryError, match="libQnnTFLiteDelegate.so"):
        attempts(config)


def test_predictive_stop_sizes_and_trims_the_timed_runs() -> None:
    plan = ProfilePlan(max_iterations=100, max_time_s=1.0)
    assert runs_within_budget(plan, 300_000) == 4
    assert runs_within_budget(plan, 0) == 100
    assert trim_to_budget([300_000] * 4, 1.0) == ([300_000] * 3, "max_time")
    assert trim_to_budget([100] * 3, 1.0) == ([100] * 3, "max_iterations")


# --------------------------------------------------------------------------------------
# When the vendor path applies
# --------------------------------------------------------------------------------------


def test_a_model_library_always_goes_to_qnn_net_run(tmp_path: Path) -> None:
    assert vendor_tool_for(Path("model.so"), _config(tmp_path)) == QNN_NET_RUN
    assert vendor_tool_for(Path("model.onnx"), _config(tmp_path)) is None


def test_tflite_on_the_npu_uses_benchmark_model_only_when_it_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    npu = _config(tmp_path, compute_units=("npu",))
    monkeypatch.delenv("DEVICELAB_BENCHMARK_MODEL", raising=False)
    assert vendor_tool_for(Path("m.tflite"), npu) is None
    executable(tmp_path / "tools" / "benchmark_model", BENCHMARK_STANDIN)
    npu.library_dirs = (str(tmp_path / "tools"),)
    assert vendor_tool_for(Path("m.tflite"), npu) == BENCHMARK_MODEL
    assert vendor_tool_for(Path("m.tflite"), _config(tmp_path, compute_units=("cpu",))) is None


def test_a_context_binary_stays_in_process_where_the_qnn_ep_reaches_the_npu(
    tmp_path: Path, qnn_sdk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, compute_units=("npu",))
    monkeypatch.delenv("ANDROID_ROOT", raising=False)
    expected = None if _host_has_qnn_htp() else QNN_NET_RUN
    assert vendor_tool_for(Path("m.bin"), config) == expected
    monkeypatch.setenv("ANDROID_ROOT", "/system")  # a phone: bionic libraries out of reach
    assert vendor_tool_for(Path("m.bin"), config) == QNN_NET_RUN


def _host_has_qnn_htp() -> bool:
    from agent.runtimes import qnn_ep

    return qnn_ep.find_library("libQnnHtp.so", ()) is not None


# --------------------------------------------------------------------------------------
# qnn-net-run end to end (stand-in tools)
# --------------------------------------------------------------------------------------


def test_qnn_model_library_job_streams_the_session_events(
    tmp_path: Path, qnn_sdk: Path, argv_log: Path
) -> None:
    model = tmp_path / "libmodel.so"
    model.write_bytes(b"\x7fELF placeholder")
    config = _config(tmp_path, input_shapes={"image": (1, 3, 8, 8)}, htp_arch="73")
    plan = ProfilePlan(max_iterations=10, max_time_s=60, warmup_iterations=1)
    stream = _run_job(model, config, plan)
    kinds = [type(e).__name__ for e in stream]
    assert kinds[:5] == ["StageStarted", "LoadDone", "StageStarted", "LoadDone", "Applied"]
    assert kinds[-1] == "Summary"
    first_load = _of(stream, events.LoadDone)[0]
    assert first_load.stage == "first_load" and first_load.time_us == 331158 + 74748 + 256372
    assert first_load.peak_memory_bytes > 0
    # Per-inference "QNN (execute) time" rows after the warm-up one.
    assert _of(stream, events.IterationTimes)[0].latencies_us == [71940, 54998, 3015]
    layer_iterations = _of(stream, events.LayerIteration)
    assert len(layer_iterations) == 3
    assert {layer.compute_unit for layer in layer_iterations[0].layers} == {"NPU"}
    assert all(layer.execution_cycles is not None for layer in layer_iterations[0].layers)
    done = stream[-1]
    assert done.iterations == 3 and done.stop_reason == "max_iterations"
    applied = _of(stream, events.Applied)[0].config
    assert applied.runtime == "qnn-net-run"
    assert applied.runtime_version == "2.13.2.230822171732_60416"
    assert applied.accelerators == ["libQnnHtp.so"]
    assert any("not run on hardware by devicelab's tests" in w for w in applied.warnings)
    runs = [c for c in _calls(argv_log, "qnn-net-run") if c[1:] != ["--version"]]
    assert [c[c.index("--profiling_level") + 1] for c in runs] == ["basic", "basic", "detailed"]
    assert [c[c.index("--num_inferences") + 1] for c in runs] == ["1", "11", "3"]
    assert all(c[c.index("--model") + 1] == str(model) for c in runs)
    assert all(c[c.index("--perf_profile") + 1] == "burst" for c in runs)
    assert all(c[c.index("--backend") + 1].endswith("aarch64-android/libQnnHtp.so") for c in runs)


def test_qnn_input_list_names_float32_raw_files_of_the_right_size(
    tmp_path: Path, qnn_sdk: Path, argv_log: Path
) -> None:
    model = tmp_path / "libmodel.so"
    model.write_bytes(b"placeholder")
    config = _config(tmp_path, input_shapes={"image": (1, 3, 8, 8), "mask": (1, 4)})
    _run_job(model, config, ProfilePlan(max_iterations=2, layer_profile_iterations=0))
    run = _calls(argv_log, "qnn-net-run")[-1]
    entries = Path(run[run.index("--input_list") + 1]).read_text().split()
    assert [e.split(":=")[0] for e in entries] == ["image", "mask"]
    sizes = [Path(e.split(":=")[1]).stat().st_size for e in entries]
    assert sizes == [1 * 3 * 8 * 8 * 4, 1 * 4 * 4]


def test_qnn_options_reach_the_config_file(tmp_path: Path, qnn_sdk: Path, argv_log: Path) -> None:
    (qnn_sdk / "lib" / "aarch64-android" / "libQnnHtpNetRunExtensions.so").write_bytes(b"x")
    model = tmp_path / "libmodel.so"
    model.write_bytes(b"placeholder")
    config = _config(
        tmp_path,
        input_shapes={"image": (1, 3, 8, 8)},
        qnn_options={"context_priority": "HIGH", "default_graph_htp_vtcm_size": "8"},
        soc_model="43",
        htp_arch="73",
    )
    stream = _run_job(model, config, ProfilePlan(max_iterations=2, layer_profile_iterations=0))
    run = _calls(argv_log, "qnn-net-run")[-1]
    document = json.loads(Path(run[run.index("--config_file") + 1]).read_text())
    assert document["context_configs"] == {"context_priority": "high"}
    htp = json.loads(Path(document["backend_extensions"]["config_file_path"]).read_text())
    assert htp == {"graphs": [{"vtcm_mb": 8}], "devices": [{"soc_model": 43, "dsp_arch": "v73"}]}
    assert _of(stream, events.Applied)[0].config.settings["perf_profile"] == "burst"


def test_context_binary_uses_retrieve_context(
    tmp_path: Path, qnn_sdk: Path, argv_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANDROID_ROOT", "/system")  # a phone: the in-process QNN EP is out
    model = tmp_path / "model.bin"
    model.write_bytes(b"not a real context binary")
    config = _config(tmp_path, input_shapes={"image": (1, 3, 8, 8)}, compute_units=("npu",))
    _run_job(model, config, ProfilePlan(max_iterations=2, layer_profile_iterations=0))
    run = _calls(argv_log, "qnn-net-run")[-1]
    assert run[run.index("--retrieve_context") + 1] == str(model) and "--model" not in run


def test_missing_qnn_sdk_names_what_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QNN_SDK_ROOT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingLibraryError) as caught:
        require_qnn_tools(())
    message = str(caught.value)
    assert message.startswith("qnn-net-run and qnn-profile-viewer not found: set QNN_SDK_ROOT")
    assert "bin/aarch64-android/qnn-net-run" in message
    assert "lib/aarch64-android/libQnnHtp.so" in message
    model = tmp_path / "libmodel.so"
    model.write_bytes(b"placeholder")
    with pytest.raises(MissingLibraryError, match="qnn-net-run"):
        _run_job(model, _config(tmp_path), ProfilePlan())


def test_missing_backend_library_is_named(tmp_path: Path, qnn_sdk: Path) -> None:
    (qnn_sdk / "lib" / "aarch64-android" / "libQnnHtp.so").unlink()
    model = tmp_path / "libmodel.so"
    model.write_bytes(b"placeholder")
    config = _config(tmp_path, compute_units=("npu",), input_shapes={"x": (1,)})
    with pytest.raises(MissingLibraryError, match="libQnnHtp.so not found"):
        _run_job(model, config, ProfilePlan())


def test_model_library_without_input_specs_is_refused(tmp_path: Path, qnn_sdk: Path) -> None:
    model = tmp_path / "libmodel.so"
    model.write_bytes(b"placeholder")
    with pytest.raises(InvalidOptionError, match="input specs"):
        _run_job(model, _config(tmp_path), ProfilePlan())


def test_a_failing_tool_reports_its_own_words(
    tmp_path: Path, qnn_sdk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_FAIL", "1")
    model = tmp_path / "libmodel.so"
    model.write_bytes(b"placeholder")
    config = _config(tmp_path, input_shapes={"image": (1, 3, 8, 8)})
    with pytest.raises(AgentError, match="exited with code 1: ERROR: Could not create context"):
        _run_job(model, config, ProfilePlan())


def test_a_hung_tool_is_killed_at_its_timeout(tmp_path: Path) -> None:
    sleeper = executable(tmp_path / "sleeper", "import time\ntime.sleep(30)\n")
    with pytest.raises(ToolTimeoutError, match="sleeper did not finish"):
        run_tool([str(sleeper)], 0.5, tmp_path / "run")


# --------------------------------------------------------------------------------------
# benchmark_model end to end (stand-in tool)
# --------------------------------------------------------------------------------------


def test_tflite_on_the_gpu_through_benchmark_model(
    tmp_path: Path, models_dir: Path, benchmark_tool: Path, argv_log: Path
) -> None:
    config = _config(tmp_path, compute_units=("gpu",))
    plan = ProfilePlan(max_iterations=20, max_time_s=30, warmup_iterations=2)
    stream = _run_job(models_dir / "tiny_cnn.tflite", config, plan)
    loads = _of(stream, events.LoadDone)
    assert [load.time_us for load in loads] == [449051, 449051]
    assert _of(stream, events.IterationTimes)[0].latencies_us == [99646]
    applied = _of(stream, events.Applied)[0].config
    assert applied.runtime == "benchmark_model" and applied.accelerators == ["gpu", "xnnpack"]
    assert applied.settings["runs_count"] == "50" and applied.settings["runs_std_us"] == "1369"
    assert any("aggregate latency only" in w for w in applied.warnings)
    assert any("not run on hardware by devicelab's tests" in w for w in applied.warnings)
    layers = _of(stream, events.LayerIteration)[0].layers
    assert sum(1 for layer in layers if layer.compute_unit == "GPU") == 3
    timed = _calls(argv_log, "benchmark_model")[1]
    assert {"--use_gpu=true", "--warmup_runs=2", "--min_secs=0", "--max_secs=30"} <= set(timed)
    runs = int(next(a for a in timed if a.startswith("--num_runs=")).split("=")[1])
    assert 1 <= runs <= 20
    assert "--enable_op_profiling=true" in _calls(argv_log, "benchmark_model")[2]


def test_a_failing_delegate_falls_back_to_the_next(
    tmp_path: Path,
    models_dir: Path,
    benchmark_tool: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STANDIN_NNAPI_FAIL", "1")
    config = _config(tmp_path, tflite_delegates=("nnapi", "gpu"))
    stream = _run_job(models_dir / "tiny_cnn.tflite", config, ProfilePlan(max_iterations=3))
    applied = _of(stream, events.Applied)[0].config
    assert applied.accelerators == ["gpu"]
    assert applied.fallbacks[0].startswith("nnapi: ")
    assert "Failed to apply NNAPI delegate." in applied.fallbacks[0]


def test_a_failing_delegate_without_fallback_fails_the_job(
    tmp_path: Path,
    models_dir: Path,
    benchmark_tool: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STANDIN_NNAPI_FAIL", "1")
    config = _config(
        tmp_path, tflite_delegates=("nnapi",), tflite_options={"enable_fallback": "false"}
    )
    with pytest.raises(DelegateError, match="nnapi: .*Failed to apply NNAPI delegate"):
        _run_job(models_dir / "tiny_cnn.tflite", config, ProfilePlan(max_iterations=3))


def test_missing_benchmark_model_names_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEVICELAB_BENCHMARK_MODEL", raising=False)
    with pytest.raises(MissingLibraryError) as caught:
        require_benchmark_model((str(tmp_path),))
    assert str(caught.value).startswith(
        "benchmark_model not found: set DEVICELAB_BENCHMARK_MODEL on the device"
    )


def test_a_file_that_is_not_tflite_is_refused_before_the_tool_runs(
    tmp_path: Path, benchmark_tool: Path, argv_log: Path
) -> None:
    from agent.errors import InvalidModelError

    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    config = _config(tmp_path, compute_units=("gpu",))
    with pytest.raises(InvalidModelError, match="TFL3"):
        _run_job(bad, config, ProfilePlan())
    assert not argv_log.exists()  # the stand-in never ran
