"""The LiteRT runtime on real LiteRT: loading, delegates and fallback, options, profiling.

No phone here, so no real external delegate can load: missing libraries are
real, and a "delegate that loads but fails" is a tiny C plugin compiled in a
fixture (a stand-in for a vendor library we do not ship).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from agent.errors import AgentError, InvalidModelError, InvalidOptionError, MissingLibraryError
from agent.runtimes.base import RunConfig
from agent.runtimes.litert import LiteRtRuntime
from agent.runtimes.litert_delegates import GeneralOptions, delegate_options
from controller.samples.tflite_models import write_tiny_cnn_tflite

TINY_OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"]

FAKE_DELEGATE_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* Leading fields of TfLiteDelegate; the rest is zeroed padding. */
typedef struct {
  void* data;
  int (*prepare)(void*, void*);
  void* copy_from;
  void* copy_to;
  void* free_handle;
  int64_t flags;
  void* opaque_builder;
  char reserved[64];
} FakeDelegate;
static int prepare_ok(void* context, void* delegate) { return 0; }     /* claims no node */
static int prepare_fail(void* context, void* delegate) { return 1; }   /* kTfLiteError */
void* tflite_plugin_create_delegate(char** keys, char** values, size_t n,
                                    void (*report)(const char*)) {
  const char* log = getenv("FAKE_DELEGATE_LOG");
  if (log) {
    FILE* f = fopen(log, "a");
    for (size_t i = 0; i < n; i++) fprintf(f, "%s=%s\n", keys[i], values[i]);
    fclose(f);
  }
  FakeDelegate* d = calloc(1, sizeof(FakeDelegate));
  const char* mode = getenv("FAKE_DELEGATE_MODE");
  d->prepare = (mode && strcmp(mode, "fail_prepare") == 0) ? prepare_fail : prepare_ok;
  return d;
}
void tflite_plugin_destroy_delegate(void* d) { free(d); }
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_cnn_tflite(tmp_path_factory.mktemp("models") / "tiny.tflite")


@pytest.fixture(scope="module")
def fake_qnn_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a compiled stand-in named libQnnTFLiteDelegate.so."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the stand-in delegate")
    directory = tmp_path_factory.mktemp("fake_qnn")
    source = directory / "fake.c"
    source.write_text(FAKE_DELEGATE_C)
    library = directory / "libQnnTFLiteDelegate.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return directory


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, 32, 32, 3)).astype(np.float32)


def _config(tmp_path: Path, **kwargs: object) -> RunConfig:
    return RunConfig(workdir=tmp_path, **kwargs)  # type: ignore[arg-type]


def _probabilities(runtime: LiteRtRuntime, model: Path, config: RunConfig, x: np.ndarray):
    loaded = runtime.load(model, config)
    loaded.set_inputs({"image": x})
    loaded.run()
    return loaded, loaded.get_outputs()["probabilities"]


def test_info_reports_litert_with_xnnpack() -> None:
    info = LiteRtRuntime().info()
    assert info.available and info.name == "litert" and info.version
    assert info.accelerators[0] == "xnnpack"


def test_tiny_model_runs_on_xnnpack(tmp_path: Path, tiny_model: Path, image: np.ndarray) -> None:
    config = _config(tmp_path, compute_units=("cpu",))
    loaded, probs = _probabilities(LiteRtRuntime(), tiny_model, config, image)
    assert [spec.name for spec in loaded.inputs] == ["image"]
    assert loaded.inputs[0].shape == (1, 32, 32, 3) and loaded.inputs[0].dtype == "float32"
    assert probs.shape == (1, 10)
    assert np.all(np.isfinite(probs)) and probs.sum() == pytest.approx(1.0, abs=1e-5)
    applied = loaded.applied
    assert applied.runtime == "litert" and applied.runtime_version
    assert applied.accelerators == ["xnnpack"]
    assert applied.fallbacks == [] and applied.warnings == []
    assert applied.settings["xnnpack"] == "on"
    loaded.close()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_thread_count_is_recorded(tmp_path: Path, tiny_model: Path, threads: str) -> None:
    config = _config(
        tmp_path, compute_units=("cpu",), tflite_options={"number_of_threads": threads}
    )
    assert LiteRtRuntime().load(tiny_model, config).applied.settings["num_threads"] == threads


def test_default_threads_are_half_the_cores(tmp_path: Path, tiny_model: Path) -> None:
    applied = LiteRtRuntime().load(tiny_model, _config(tmp_path, compute_units=("cpu",))).applied
    assert applied.settings["num_threads"] == str(max(1, (os.cpu_count() or 2) // 2))


def test_xnnpack_off_runs_builtin_kernels(
    tmp_path: Path, tiny_model: Path, image: np.ndarray
) -> None:
    runtime = LiteRtRuntime()
    _, with_xnnpack = _probabilities(runtime, tiny_model, _config(tmp_path), image)
    # An explicit delegate list without xnnpack turns XNNPACK off; gpu is absent here.
    config = _config(tmp_path, tflite_delegates=("gpu",), library_dirs=(str(tmp_path),))
    loaded, builtin = _probabilities(runtime, tiny_model, config, image)
    assert loaded.applied.settings["xnnpack"] == "off"
    assert loaded.applied.settings["op_resolver"] == "BUILTIN_WITHOUT_DEFAULT_DELEGATES"
    assert loaded.applied.accelerators == ["cpu"]
    np.testing.assert_allclose(builtin, with_xnnpack, rtol=1e-4, atol=1e-6)


def test_missing_qnn_falls_back_and_says_why(tmp_path: Path, tiny_model: Path) -> None:
    config = _config(tmp_path, tflite_delegates=("qnn", "xnnpack"), library_dirs=(str(tmp_path),))
    applied = LiteRtRuntime().load(tiny_model, config).applied
    assert applied.accelerators == ["xnnpack"]
    [fallback] = applied.fallbacks
    assert fallback.startswith("qnn: libQnnTFLiteDelegate.so not found in ")
    assert str(tmp_path) in fallback and "/vendor/lib64" in fallback


def test_missing_qnn_without_fallback_fails_naming_library(
    tmp_path: Path, tiny_model: Path
) -> None:
    config = _config(
        tmp_path,
        tflite_delegates=("qnn",),
        tflite_options={"enable_fallback": "false"},
        library_dirs=(str(tmp_path),),
    )
    with pytest.raises(MissingLibraryError, match="libQnnTFLiteDelegate.so") as caught:
        LiteRtRuntime().load(tiny_model, config)
    assert str(tmp_path) in str(caught.value)


def test_found_delegate_gets_mapped_options(
    tmp_path: Path, tiny_model: Path, fake_qnn_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "options.log"
    monkeypatch.setenv("FAKE_DELEGATE_LOG", str(log))
    monkeypatch.delenv("FAKE_DELEGATE_MODE", raising=False)
    options = {
        "qnn_htp_performance_mode": "kHtpBalanced",
        "invoke_interpreter_on_cold_load": "true",
    }
    config = _config(
        tmp_path,
        tflite_delegates=("qnn", "xnnpack"),
        tflite_options=options,
        library_dirs=(str(fake_qnn_dir),),
    )
    applied = LiteRtRuntime().load(tiny_model, config).applied
    assert applied.accelerators == ["qnn", "xnnpack"] and applied.fallbacks == []
    passed = dict(line.split("=", 1) for line in log.read_text().splitlines())
    assert passed["backend_type"] == "htp" and passed["htp_performance_mode"] == "8"
    assert "htp_performance_mode=8" in applied.settings["delegate.qnn.options"]
    assert applied.settings["delegate.qnn.library"] == str(fake_qnn_dir / "libQnnTFLiteDelegate.so")


@pytest.mark.parametrize("fallback", ["true", "false"])
def test_delegate_that_fails_to_prepare(
    tmp_path: Path,
    tiny_model: Path,
    fake_qnn_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    fallback: str,
) -> None:
    monkeypatch.setenv("FAKE_DELEGATE_MODE", "fail_prepare")
    monkeypatch.delenv("FAKE_DELEGATE_LOG", raising=False)
    config = _config(
        tmp_path,
        tflite_delegates=("qnn", "xnnpack"),
        tflite_options={"enable_fallback": fallback},
        library_dirs=(str(fake_qnn_dir),),
    )
    if fallback == "false":
        with pytest.raises(AgentError, match="delegate qnn .* failed to prepare"):
            LiteRtRuntime().load(tiny_model, config)
        return
    applied = LiteRtRuntime().load(tiny_model, config).applied
    assert applied.accelerators == ["xnnpack"]
    assert [f.split(":")[0:2] for f in applied.fallbacks] == [["qnn", " failed to prepare"]]


def test_qnn_option_table_maps_names_to_numbers() -> None:
    user = {"qnn_htp_performance_mode": "kHtpSustainedHighPerformance", "qnn_log_level": "kLogOff"}
    defaults = GeneralOptions.from_values()
    qnn = delegate_options("qnn", user, defaults)
    assert qnn["backend_type"] == "htp"
    assert qnn["htp_performance_mode"] == "1" and qnn["log_level"] == "0"
    assert qnn["htp_precision"] == "1" and qnn["htp_use_conv_hmx"] == "1"  # cloud defaults
    no_fp16 = delegate_options("qnn", {}, GeneralOptions.from_values({"allow_fp32_as_fp16": False}))
    assert no_fp16["htp_precision"] == "0"
    qnn_gpu = delegate_options("qnn-gpu", {"qnn_gpu_precision": "kGpuHybrid"}, defaults)
    assert qnn_gpu == {
        "backend_type": "gpu",
        "log_level": "2",
        "gpu_precision": "3",
        "gpu_performance_mode": "1",
    }
    gpu = delegate_options("gpu", {}, GeneralOptions.from_values({"force_opengl": True}))
    assert gpu["experimental_flags"] == "5" and gpu["inference_priority1"] == "2"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"not_an_option": "1"}, "not_an_option"),
        ({"qnn_htp_performance_mode": "burst"}, "qnn_htp_performance_mode"),
        ({"number_of_threads": "0"}, "number_of_threads"),
        ({"enable_fallback": "maybe"}, "enable_fallback"),
    ],
)
def test_bad_sub_option_is_rejected_by_name(
    tmp_path: Path, tiny_model: Path, options: dict[str, str], named: str
) -> None:
    with pytest.raises(InvalidOptionError, match=named):
        LiteRtRuntime().load(tiny_model, _config(tmp_path, tflite_options=options))


def test_options_that_cannot_apply_are_warned(tmp_path: Path, tiny_model: Path) -> None:
    options = {
        "release_dynamic_tensors": "true",
        "gpu_inference_priority1": "TFLITE_GPU_INFERENCE_PRIORITY_AUTO",
    }
    config = _config(tmp_path, compute_units=("cpu",), tflite_options=options)
    warnings = LiteRtRuntime().load(tiny_model, config).applied.warnings
    assert any(w.startswith("release_dynamic_tensors=true not applied") for w in warnings)
    assert any(w.startswith("gpu_inference_priority1 not applied") for w in warnings)


def test_corrupt_model_is_invalid(tmp_path: Path, image: np.ndarray) -> None:
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(np.random.default_rng(1).bytes(4096))
    runtime = LiteRtRuntime()
    with pytest.raises(InvalidModelError, match="corrupt.tflite"):
        runtime.load(corrupt, _config(tmp_path))
    with pytest.raises(InvalidModelError, match="corrupt.tflite"):
        runtime.profile_layers(corrupt, _config(tmp_path), {"image": image}, 1)
    with pytest.raises(InvalidModelError, match="missing.tflite"):
        runtime.load(tmp_path / "missing.tflite", _config(tmp_path))


def test_profile_layers_builtin_kernels_name_tflite_ops(
    tmp_path: Path, tiny_model: Path, image: np.ndarray
) -> None:
    config = _config(tmp_path, tflite_delegates=("qnn",), library_dirs=(str(tmp_path),))
    per_iteration = LiteRtRuntime().profile_layers(tiny_model, config, {"image": image}, 3)
    assert len(per_iteration) == 3
    for iteration in per_iteration:
        layers = iteration.layers
        assert sum(layer.execution_time_us for layer in layers) <= 1.05 * iteration.wall_time_us
        assert [layer.type for layer in layers] == TINY_OPS
        assert [layer.name for layer in layers] == [f"{op}:{i}" for i, op in enumerate(TINY_OPS)]
        assert all(layer.compute_unit == "CPU" for layer in layers)
        # Times are whole microseconds: a sub-microsecond op reads 0.
        assert all(layer.execution_time_us >= 0 for layer in layers)
        assert layers[0].execution_time_us > 0 and sum(x.execution_time_us for x in layers) > 0


def test_profile_layers_xnnpack_names_xnnpack_operators(
    tmp_path: Path, tiny_model: Path, image: np.ndarray
) -> None:
    config = _config(tmp_path, compute_units=("cpu",))
    [iteration] = LiteRtRuntime().profile_layers(tiny_model, config, {"image": image}, 1)
    layers = iteration.layers
    assert layers and any("Convolution" in layer.type for layer in layers)
    assert sum(layer.execution_time_us for layer in layers) > 0
