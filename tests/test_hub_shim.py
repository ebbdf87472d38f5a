"""``import qai_hub`` as devicelab, only where asked (``controller.hub_shim``, ``devicelab run``),
with the module paths and values qai-hub-models 0.65 uses (checked against qai-hub 0.56's
own ``client.py`` and ``public_rest_api.py``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import controller as hub
from controller import hub_shim

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def real_qai_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package named ``qai_hub`` on sys.path, standing in for the cloud client (which we
    do not ship) installed beside devicelab."""
    package = tmp_path / "site" / "qai_hub"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(package.parent))
    yield package
    for name in [n for n in sys.modules if n == "qai_hub" or n.startswith("qai_hub.")]:
        del sys.modules[name]


def test_qai_hub_is_devicelab_inside_the_block_and_the_real_one_outside(
    real_qai_hub: Path,
) -> None:
    import qai_hub

    assert qai_hub.REAL
    with hub_shim.as_qai_hub():
        import qai_hub as inside

        assert inside.submit_profile_job is hub.submit_profile_job
        assert not hasattr(inside, "REAL")
    import qai_hub as after

    assert after.REAL and after is qai_hub  # the module imported before is put back
    assert not hub_shim.active()


def test_nothing_named_qai_hub_is_importable_from_devicelab_alone() -> None:
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('qai_hub') is not None)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False)
    assert done.returncode == 0


def test_the_submodules_qai_hub_models_imports_resolve() -> None:
    with hub_shim.as_qai_hub():
        from qai_hub import JobType, QuantizeDtype, UserError
        from qai_hub.client import Client, DatasetEntries, Device, InputSpecs, QuantizeJob
        from qai_hub.hub import _global_client
        from qai_hub.public_rest_api import DatasetEntries as RestEntries
        from qai_hub.public_rest_api import get_job_results
        from qai_hub.util.dataset_entries_converters import h5_to_dataset_entries

        assert (Device, QuantizeJob, UserError) == (hub.Device, hub.QuantizeJob, hub.UserError)
        assert (JobType, QuantizeDtype, InputSpecs) == (
            hub.JobType,
            hub.QuantizeDtype,
            hub.InputSpecs,
        )
        assert DatasetEntries is RestEntries
        assert callable(get_job_results) and callable(h5_to_dataset_entries)
        assert isinstance(_global_client, Client)
        assert _global_client.config.api_url.startswith("file://")


def test_enums_carry_the_cloud_clients_members_and_values() -> None:
    with hub_shim.as_qai_hub():
        import qai_hub

        assert {m.name: m.value for m in qai_hub.QuantizeDtype} == {
            "INT8": 1,
            "INT16": 3,
            "INT4": 5,
        }
        assert qai_hub.JobType.PROFILE is qai_hub.JobType.INFERENCE
        assert (qai_hub.JobType.COMPILE.value, qai_hub.JobType.LINK.value) == (3, 5)
        keys = qai_hub.ModelMetadataKey
        assert (keys.QNN_SDK_VERSION.value, keys.QAIRT_SDK_VERSION.value) == (1, 3)
        assert keys.QNN_CONTEXT_BIN_GRAPH_NAMES is keys.QNN_MODEL_GRAPH_NAMES


def test_dataset_entries_round_trip_through_an_open_h5_file(tmp_path: Path) -> None:
    import h5py

    data = {"image": [np.arange(6, dtype=np.float32).reshape(2, 3)], "ids": [np.ones(2)]}
    with hub_shim.as_qai_hub():
        from qai_hub.util import dataset_entries_converters as convert

        with h5py.File(tmp_path / "d.h5", "w") as h5f:
            convert.dataset_entries_to_h5(data, h5f)
        with h5py.File(tmp_path / "d.h5", "r") as h5f:
            back = convert.h5_to_dataset_entries(h5f)
    assert list(back) == ["image", "ids"]
    np.testing.assert_array_equal(back["image"][0], data["image"][0])


def test_the_framework_catalogue_is_refused_with_what_runs_instead() -> None:
    with hub_shim.as_qai_hub():
        from qai_hub.public_rest_api import get_framework_list

        with pytest.raises(hub.UserError, match="get_frameworks"):
            get_framework_list(None)


def test_a_link_of_anything_but_one_context_binary_is_refused_at_submit(
    tmp_path: Path,
) -> None:
    from controller.samples.onnx_models import write_tiny_cnn_onnx

    model = hub.upload_model(write_tiny_cnn_onnx(tmp_path / "tiny.onnx"))
    with hub_shim.as_qai_hub():
        import qai_hub

        with pytest.raises(hub.UserError, match="QNN SDK tools"):
            qai_hub.submit_link_job([model], hub.Device("Samsung Galaxy S23"))
    with pytest.raises(hub.UserError, match="qnn_dlc.*QNN_SDK_ROOT"):
        hub.submit_compile_job(
            model, hub.Device("Samsung Galaxy S23"), options="--target_runtime qnn_dlc"
        )


def test_devicelab_run_gives_the_script_qai_hub_its_argv_and_its_exit_status(
    tmp_path: Path,
) -> None:
    script = tmp_path / "uses_hub.py"
    script.write_text(
        "import sys\nimport qai_hub\n"
        "print(qai_hub.submit_profile_job.__module__, sys.argv[1:])\n"
        "sys.exit(3)\n"
    )
    devicelab = Path(sys.executable).parent / "devicelab"
    done = subprocess.run(
        [str(devicelab), "run", str(script), "--options", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == "controller.api ['--options', 'x']"


def test_devicelab_run_refuses_a_native_program() -> None:
    from controller.cli.run import python_script

    with pytest.raises(hub.UserError, match="not a Python program"):
        python_script("/bin/ls")


def test_family_names_and_phone_chipsets_find_a_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICELAB_SIMULATE", "1")  # no phone here: the SoC's simulated twin
    (family,) = hub.get_devices(name="Samsung Galaxy S25 (Family)")  # the export's default
    assert family.name == "Snapdragon 8 Elite (simulated)"
    assert isinstance(family.attributes, list)
    assert {"hexagon:v79", "soc-model:69", "htp-supports-fp16:true"} <= set(family.attributes)
    (galaxy,) = hub.get_devices(attributes="chipset:sm8750-ac")  # the S25's own chipset alias
    assert galaxy.name == family.name
    assert hub.get_devices(name="Samsung Galaxy S2 (Family)") == []


def test_job_results_name_the_tools_a_job_ran_with(tmp_path: Path) -> None:
    import onnxruntime

    from controller.samples.onnx_models import write_tiny_cnn_onnx

    model = write_tiny_cnn_onnx(tmp_path / "tiny.onnx")
    options = "--compute_unit cpu --max_profiler_iterations 2 --qairt_version 2.50"
    job = hub.submit_profile_job(model, hub.Device(), options=options)
    assert job.wait(240).success, job.get_status().message
    with hub_shim.as_qai_hub():
        from qai_hub.public_rest_api import get_job_results

        result = get_job_results(job._owner.config, job.job_id)
    tools = {(t.name, t.version) for t in result.inference_job_result.detail.tool_versions}
    assert tools == {("ONNX Runtime", onnxruntime.__version__)}  # no QNN ran: no QAIRT
    assert "qairt_version" not in str(job.download_profile()["devicelab"].get("warnings", []))


def test_a_qnn_run_of_another_sdk_version_than_asked_is_warned_about() -> None:
    from controller.qairt import qairt_warning

    applied = {"accelerators": ["QNNExecutionProvider"], "settings": {"qnn_sdk": "2.51.0"}}
    warning = qairt_warning("2.50", applied)
    assert warning is not None and "2.50" in warning and "2.51.0" in warning
    assert qairt_warning("2.51", applied) is None
    assert qairt_warning("default", applied) is None
    assert qairt_warning("2.50", {"accelerators": ["CPUExecutionProvider"]}) is None


@pytest.mark.parametrize(
    "options",
    ["--target_runtime qnn_dlc --qnn_options context_enable_graphs=main",
     "--target_runtime=qnn_dlc"],
)  # fmt: skip
def test_under_the_shim_a_qnn_dlc_compile_asks_for_a_context_binary_and_says_so(
    options: str,
) -> None:
    from controller.hub_shim.qnn_dlc import SUBSTITUTION_NOTE, context_binary_options

    changed, notes = context_binary_options(options)
    assert "qnn_dlc" not in changed and "qnn_context_binary" in changed
    assert notes == [SUBSTITUTION_NOTE]
    assert context_binary_options("--target_runtime onnx --output_names qnn_dlc") == (
        "--target_runtime onnx --output_names qnn_dlc",
        [],
    )
