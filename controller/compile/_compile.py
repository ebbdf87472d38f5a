"""``compile_model``: one compile job, run locally on the host, stage by stage.

Stages, in order (each reported through ``progress`` and timed in ``details``):
load and check (a PyTorch source is exported to ONNX first) -> static shapes ->
output names -> channel-last I/O -> quantize -> quantized I/O -> check and save ->
the target's converter (QNN context binary, onnx2tf, QNN model library). A PyTorch
source compiled to TFLite skips the ONNX stages: litert-torch converts the
``torch.export`` graph directly. Everything a stage can refuse is checked before the
slow stages run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import onnx

from controller.compile import _qnn, _qnn_lib, _quantize, _runtime, _tflite, _torch
from controller.compile._graph import (
    is_quantized,
    make_channel_last,
    rename_outputs,
    resolve_output_names,
)
from controller.compile._model import SourceModel
from controller.compile._quantized_io import keep_io_quantized
from controller.compile._shapes import (
    InputSpecs,
    dims,
    make_static,
    model_inputs,
    numpy_dtype,
    require_static,
)
from controller.compile._source import (
    check_request,
    check_target,
    load_model,
    save_model,
    source_of_file,
)
from controller.devices.profiles import DeviceProfile
from controller.errors import InternalError, UserError
from controller.options import Options
from controller.qairt import version_matches

#: Calibration samples by input name, in the source model's layout.
CalibrationData: TypeAlias = Mapping[str, Sequence[np.ndarray]]


@dataclass
class CompileResult:
    """The artifact of a compile job and how it was made.

    Attributes:
        path: the produced file: ``.onnx`` or ``.bin``.
        target_runtime: ``onnx`` or ``qnn_context_binary``.
        notes: what the user should know about the result (random calibration, fp16...).
        details: a JSON-able record: inputs/outputs, quantization, QNN settings as the
            session held them, stage timings (``stage_seconds``) and tool versions.
    """

    path: Path
    target_runtime: str
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class _Run:
    """Progress messages, notes, details and stage timings of one compile."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress
        self.notes: list[str] = []
        self.details: dict[str, Any] = {"stage_seconds": {}}

    @contextmanager
    def stage(self, message: str) -> Iterator[None]:
        if self.progress is not None:
            self.progress(message)
        start = time.perf_counter()
        yield
        self.details["stage_seconds"][message] = round(time.perf_counter() - start, 3)


def compile_model(
    source: Path | SourceModel,
    options: Options,
    *,
    device_profile: DeviceProfile | None,
    input_specs: InputSpecs | None,
    calibration_data: CalibrationData | None,
    workdir: Path,
    progress: Callable[[str], None] | None = None,
) -> CompileResult:
    """Compile ``source`` as ``options`` ask, on this host, into ``workdir``.

    Args:
        source: an ONNX, TorchScript (``.pt``) or torch.export (``.pt2``) file, its type
            from its suffix; or a ``SourceModel`` carrying its type (a stored model).
        options: parsed with ``parse_options(..., job="compile", target_runtime=...)``.
        device_profile: the target device's SoC (needed for ``qnn_context_binary``).
        input_specs: ``{name: shape}`` or ``{name: (shape, dtype)}`` for every input;
            dynamic dims become these sizes.
        calibration_data: samples per input for ``--quantize_full_type``; without it,
            seeded random data is used (the result is then for performance only).
        workdir: where intermediate files and the artifact go.
        progress: called with a short message as each stage starts.

    Raises:
        UserError: naming the input, option or op that stops the compile, or what this
            host lacks for the target (TFLite, QNN model libraries, non-ONNX sources).
        InternalError: a broken installation (e.g. onnxruntime-qnn missing).

    Example:
        >>> import tempfile
        >>> from controller.options import parse_options
        >>> from controller.samples.onnx_models import write_tiny_cnn_onnx
        >>> work = Path(tempfile.mkdtemp())
        >>> model = write_tiny_cnn_onnx(work / "src" / "tiny.onnx", dynamic_batch=True)
        >>> opts = parse_options("--target_runtime onnx --output_names scores",
        ...                      job="compile", target_runtime="tflite")
        >>> result = compile_model(model, opts, device_profile=None,
        ...                        input_specs={"image": (1, 3, 32, 32)},
        ...                        calibration_data=None, workdir=work / "out")
        >>> result.path.name, result.details["outputs"]
        ('tiny.onnx', [{'name': 'scores', 'shape': [1, 10], 'dtype': 'float32'}])
    """
    if not isinstance(source, SourceModel):
        source = source_of_file(Path(source))
    workdir = Path(workdir)
    suffix = _check_request(source, options, input_specs)
    run = _Run(progress)
    product = _product_path(source, workdir, suffix)
    if source.is_torch and options.target_runtime == "tflite":
        return _torch_to_tflite(source, options, input_specs, product, run)
    model = _load(source, input_specs, workdir, run)
    model = _reshape(model, options, input_specs, run)
    target = _plan_qnn(model, options, device_profile, run)
    model = _quantize_stage(model, options, calibration_data, workdir, run)
    _record_model(model, source, options, run)
    if target is not None:
        _context_binary(model, target, workdir, product, run)
        _record_qnn_requests(options, run)
    elif options.target_runtime == "onnx":
        with run.stage("checking and saving the ONNX model"):
            save_model(model, product)
    else:
        _convert(model, options.target_runtime, workdir, product, run)
    return CompileResult(product, options.target_runtime, run.notes, run.details)


def _load(
    source: SourceModel, input_specs: InputSpecs | None, workdir: Path, run: _Run
) -> onnx.ModelProto:
    """The source as ONNX: read, or exported with torch's exporter for PyTorch sources."""
    if not source.is_torch:
        with run.stage(f"loading {source.name}"):
            return load_model(source.path)
    exported = workdir / "stages" / f"{source.stem}.onnx"
    with run.stage(f"exporting {source.name} to ONNX (torch.onnx.export)"):
        _torch.export_onnx(source, input_specs, exported)
    run.details["exported_onnx"] = {"exporter": "torch.onnx.export", "torch": _torch_version()}
    return load_model(exported)


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _torch_to_tflite(
    source: SourceModel,
    options: Options,
    input_specs: InputSpecs | None,
    product: Path,
    run: _Run,
) -> CompileResult:
    """PyTorch -> TFLite with litert-torch; quantization (ONNX only here) is refused, not
    ignored; output names and channel-last inputs/outputs are applied."""
    unsupported = [
        flag
        for flag, given in (
            ("--quantize_full_type", options.quantize_full_type),
            ("--quantize_io", options.quantize_io),
        )
        if given
    ]
    if unsupported:
        raise UserError(
            f"{', '.join(unsupported)}: not applied when converting a PyTorch source to "
            "tflite here (litert-torch converts the graph as exported); compile to onnx "
            "first, or leave them out"
        )
    layout = _tflite.TorchLayout(
        options.output_names, options.force_channel_last_input, options.force_channel_last_output
    )
    with run.stage(f"converting {source.name} to TFLite (litert-torch)"):
        _tflite.from_torch(source, input_specs, product, layout)
    run.details.update(
        source=str(source.path),
        target_runtime="tflite",
        options=options.to_option_string(),
        converter={"name": "litert-torch", "version": _dist_version("litert-torch")},
        versions={"torch": _torch_version()},
    )
    return CompileResult(product, "tflite", run.notes, run.details)


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def _convert(
    model: onnx.ModelProto, target_runtime: str, workdir: Path, product: Path, run: _Run
) -> None:
    """ONNX -> ``tflite`` (onnx2tf) or ``qnn_lib_aarch64_android`` (QNN SDK tools)."""
    stages = workdir / "stages"
    with run.stage("checking the ONNX model"):
        prepared = save_model(model, stages / f"{product.stem}.onnx")
    if target_runtime == "tflite":
        inputs = [vi.name for vi in model_inputs(model.graph)]
        with run.stage("converting to TFLite (onnx2tf)"):
            _tflite.from_onnx(prepared, product, inputs)
        run.details["converter"] = {"name": "onnx2tf", "command": _tflite.onnx2tf_command()}
        return
    with run.stage("building the QNN model library (qnn-onnx-converter, qnn-model-lib-generator)"):
        library = _qnn_lib.build(prepared, stages / "qnn_lib")
    _place(library, product)
    run.details["converter"] = {"name": "qnn-model-lib-generator", "target": "aarch64-android"}


def _check_request(source: SourceModel, options: Options, input_specs: InputSpecs | None) -> str:
    """Everything refusable from the request alone; returns the artifact suffix."""
    if options.job != "compile":
        raise InternalError(f"compile_model needs compile options, got a {options.job} job's")
    if not source.path.is_file():
        raise UserError(f"{source.path}: no such model file")
    check_request(source.model_type, options.target_runtime, input_specs is not None)
    suffix = check_target(options.target_runtime)
    if options.target_runtime == "tflite" and options.quantize_full_type:
        raise UserError(
            "--quantize_full_type with --target_runtime tflite: quantized TFLite is not made "
            "here (onnx2tf and litert-torch convert float graphs); use --target_runtime onnx "
            "or qnn_context_binary"
        )
    channel_last = options.force_channel_last_input or options.force_channel_last_output
    if channel_last and options.target_runtime == "onnx":
        raise UserError(
            "--force_channel_last_input/--force_channel_last_output cannot be used when the "
            "target runtime is onnx (the cloud's rule); use --target_runtime qnn_context_binary"
        )
    scheme = _quantize.SCHEMES.get(options.quantize_full_type or "")
    io_type = options.quantize_io_type
    if io_type and (scheme is None or io_type != scheme.activation_dtype):
        raise UserError(
            f"--quantize_io_type {io_type}: quantized inputs/outputs here take the activation "
            "type (uint8 for int8 and w4a8, uint16 for int16, w8a16 and w4a16)"
        )
    return suffix


def _product_path(source: SourceModel, workdir: Path, suffix: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    product = workdir / f"{source.stem}{suffix}"
    if product.resolve() == source.path.resolve():
        raise InternalError(f"compile workdir {workdir} would overwrite the source {source.path}")
    return product


def _reshape(
    model: onnx.ModelProto, options: Options, input_specs: InputSpecs | None, run: _Run
) -> onnx.ModelProto:
    """Static shapes, output names and channel-last I/O, each if asked for."""
    if input_specs is not None:
        with run.stage("making shapes static"):
            make_static(model, input_specs)
    if options.output_names:
        with run.stage("renaming outputs"):
            renamed = rename_outputs(model.graph, options.output_names)
        run.details["renamed_outputs"] = renamed
    inputs = list(options.force_channel_last_input)
    outputs = resolve_output_names(
        model.graph, options.force_channel_last_output, "--force_channel_last_output"
    )
    if inputs or outputs:
        with run.stage("making inputs/outputs channel-last"):
            make_channel_last(model, inputs, outputs)
        run.details["channel_last"] = {"inputs": inputs, "outputs": outputs}
    return model


def _plan_qnn(
    model: onnx.ModelProto, options: Options, profile: DeviceProfile | None, run: _Run
) -> _qnn.QnnTarget | None:
    """The QNN target, checked before any slow stage; None for other targets."""
    if options.target_runtime != "qnn_context_binary":
        return None
    require_static(model, "a QNN context binary")
    float_model = options.quantize_full_type is None and not is_quantized(model)
    target, notes = _qnn.plan_target(options, profile, float_model)
    run.notes.extend(notes)
    return target


def _quantize_stage(
    model: onnx.ModelProto,
    options: Options,
    data: CalibrationData | None,
    workdir: Path,
    run: _Run,
) -> onnx.ModelProto:
    """``--quantize_full_type`` and ``--quantize_io``."""
    if options.quantize_full_type:
        model = _quantized(model, options.quantize_full_type, data, options, workdir, run)
    if options.quantize_io:
        if not is_quantized(model):
            # The cloud's sense: it applies when the model is quantized. qai-hub-models sends
            # it on the float ONNX compile that feeds a quantize job (build_compile_options).
            run.notes.append(
                "--quantize_io: nothing to keep quantized, the model is not quantized (it "
                "applies when a quantized model is compiled, e.g. after a quantize job)"
            )
            return model
        with run.stage("keeping inputs/outputs quantized"):
            kept = keep_io_quantized(model)
        run.details["quantized_io"] = [io.as_dict() for io in kept]
    return model


def _quantized(
    model: onnx.ModelProto,
    kind: str,
    data: CalibrationData | None,
    options: Options,
    workdir: Path,
    run: _Run,
) -> onnx.ModelProto:
    if is_quantized(model):
        raise UserError(
            f"--quantize_full_type {kind}: the model is already quantized (it has quantization "
            "ops); submit the float model, or leave the option out"
        )
    scheme = _quantize.SCHEMES[kind]
    if data is None:
        feeds, calibration = _quantize.random_feeds(model), "random calibration"
        run.notes.append(_quantize.RANDOM_CALIBRATION_NOTE)
    else:
        feeds = _quantize.dataset_feeds(model, data, options.force_channel_last_input)
        calibration = f"calibration dataset of {len(feeds)} samples"
    stages = workdir / "stages"
    with run.stage(f"quantizing ({kind}, {calibration})"):
        float_path = save_model(model, stages / "float.onnx")
        settings = _quantize.quantize(float_path, stages / "quantized.onnx", scheme, feeds)
        quantized = onnx.load(str(stages / "quantized.onnx"))
    run.details["quantization"] = {**settings, "calibration": calibration, "samples": len(feeds)}
    return quantized


def _record_model(model: onnx.ModelProto, source: SourceModel, options: Options, run: _Run) -> None:
    run.details.update(
        source=str(source.path),
        target_runtime=options.target_runtime,
        options=options.to_option_string(),
        inputs=[_value(vi) for vi in model_inputs(model.graph)],
        outputs=[_value(vi) for vi in model.graph.output],
        opsets={entry.domain or "ai.onnx": entry.version for entry in model.opset_import},
        versions=_versions(),
    )


def _record_qnn_requests(options: Options, run: _Run) -> None:
    """``--qnn_options context_enable_graphs`` and ``--qairt_version`` on a context-binary
    compile: recorded; a note when the binary differs from what was asked."""
    qnn = run.details["qnn"]
    asked = options.qnn_options.get("context_enable_graphs")
    if asked:
        names = [str(name) for name in asked] if isinstance(asked, tuple) else [str(asked)]
        qnn["requested_graph_names"] = names
        built = [graph["name"] for graph in qnn["graphs"]]
        if names != built:
            run.notes.append(
                f"context_enable_graphs={','.join(names)} recorded; the binary's graph is "
                f"named {','.join(built)} (onnxruntime-qnn names it; run it by that name)"
            )
    sdk = run.details.get("versions", {}).get("qnn_sdk", "")
    if options.qairt_version and sdk and not version_matches(options.qairt_version, sdk):
        run.notes.append(
            f"--qairt_version {options.qairt_version} recorded; compiled with QNN SDK {sdk}"
        )


def _value(value: onnx.ValueInfoProto) -> dict[str, Any]:
    return {"name": value.name, "shape": dims(value), "dtype": numpy_dtype(value)}


def _versions() -> dict[str, str]:
    return {"onnx": onnx.__version__, **_runtime.runtime_versions()}


def _context_binary(
    model: onnx.ModelProto, target: _qnn.QnnTarget, workdir: Path, product: Path, run: _Run
) -> None:
    stages = workdir / "stages"
    with run.stage("checking the ONNX model"):
        prepared = save_model(model, stages / f"{product.stem}.onnx")
    with run.stage(f"generating QNN context binary for {target.label}"):
        binary = _qnn.generate(prepared, target, stages / "qnn")
    _place(binary.path, product)
    graph = binary.graphs[0]
    run.details.update(inputs=graph["inputs"], outputs=graph["outputs"])
    run.details["qnn"] = {
        "device": target.profile.name,
        "part_number": target.profile.part_number,
        "soc_model": target.profile.soc_model,
        "htp_arch": target.profile.htp_arch,
        "vtcm_mb": target.vtcm_mb,
        "optimization_level": target.optimization_level,
        "fp16": target.fp16,
        "provider_options": target.provider_options(),
        "session_settings": binary.settings,
        "embedded_config": binary.soc_config,
        "graphs": binary.graphs,
        "context_model": str(binary.context_model),
        "built_with": binary.versions,
    }


def _place(binary: Path, product: Path) -> None:
    """Put the binary at ``product``; the original stays for the ``_ctx.onnx`` beside it."""
    product.unlink(missing_ok=True)
    try:
        os.link(binary, product)
    except OSError:  # no hard links on this filesystem: a copy costs disk, not correctness
        shutil.copy2(binary, product)
