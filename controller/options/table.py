"""THE option table: every ``--option`` devicelab accepts, declared once.

Parsing, validation, defaults, ``devicelab options`` and OPTIONS.md all read
this table (and the sub-option tables in ``contract/option_tables.py``, shared
with the agent, which reads them too). To add an option, add it here, add a
field to ``Options`` in ``model.py`` and an example to
``tests/test_options_table.py``; the tests fail until all three agree. The job
stores it at submit (``Options.to_spec()``) with nothing more to do. An option the
agent applies also needs a typed ``RunOptions`` field (``protos/agent.proto``, stubs
from ``scripts/gen_protos.py``), set in ``controller/runners/run_options.py`` and read
where the agent turns ``RunOptions`` into its run config (``agent/serde.py``). To add a
sub-option, add it to ``contract/option_tables.py`` and give it a mapping (or a
"no equivalent" entry) on each runtime path; ``tests/test_options_mapping.py``
fails until it has one.
"""

from __future__ import annotations

from contract.formats import FORMATS
from contract.option_tables import QNN_TABLES, TFLITE_TABLES
from controller.options.spec import (
    JOBS,
    RUNTIMES,
    Job,
    Kind,
    NamesFromOutputs,
    OneNamePerOutput,
    OptionSpec,
    Range,
    Requires,
    RequiresIfGiven,
)

#: Target runtime of a model file given to a profile or inference job (contract/formats.py).
MODEL_RUNTIMES = {fmt.suffix: fmt.model_type for fmt in FORMATS if fmt.runnable}

#: PyTorch source files (compile jobs take them; nothing runs them): model type by suffix.
TORCH_SOURCE_TYPES = {fmt.suffix: fmt.model_type for fmt in FORMATS if not fmt.runnable}

#: Default compile target, by source model suffix (the cloud service's table).
COMPILE_DEFAULT_TARGETS = {
    ".pt": "tflite",
    ".onnx": "tflite",
    ".aimet_onnx": "tflite",
    ".aimet_pt": "qnn_lib_aarch64_android",
    ".pt2": "tflite",  # a torch.export program: the cloud client's default, as for .pt
}

_COMPILE: frozenset[Job] = frozenset({"compile"})
_RUN: frozenset[Job] = frozenset({"profile", "inference"})
_PROFILE: frozenset[Job] = frozenset({"profile"})
_ALL_JOBS: frozenset[Job] = frozenset(JOBS)
#: The proto field carrying it is an int32.
_INT32_MAX = 2**31 - 1


def _default_targets_text() -> str:
    pairs = ", ".join(f"{suffix} -> {rt}" for suffix, rt in COMPILE_DEFAULT_TARGETS.items())
    return f"derived from the source model: {pairs}"


OPTIONS: tuple[OptionSpec, ...] = (
    # ---------------------------------------------------------------- common
    OptionSpec(
        name="compute_unit",
        kind=Kind.ENUM_LIST,
        jobs=_ALL_JOBS,
        metavar="<units>",
        choices=("all", "npu", "gpu", "cpu"),
        unordered=True,
        choice_help={"all": "NPU, then GPU, then CPU"},
        default=("all",),
        runtime_defaults={"qnn_lib_aarch64_android": ("npu",)},
        default_text="npu when the target runtime is qnn_lib_aarch64_android, else all",
        help=(
            "Target compute unit(s): in a compile job this steers code generation, in a profile "
            "or inference job it selects where the model runs. TFLite and ONNX Runtime always "
            "fall back to CPU. The list is unordered; all cannot be combined with others."
        ),
        example="--compute_unit npu,cpu",
    ),
    # --------------------------------------------------------------- compile
    OptionSpec(
        name="target_runtime",
        kind=Kind.ENUM,
        jobs=_COMPILE,
        metavar="<runtime>",
        choices=RUNTIMES,
        choice_help={
            "tflite": "TensorFlow Lite (.tflite)",
            "qnn_lib_aarch64_android": "QNN model library (.so) for AArch64 Android",
            "qnn_context_binary": "QNN context binary (.bin) for the job's device",
            "onnx": "ONNX Runtime (.onnx)",
        },
        default_text=_default_targets_text(),
        help="Overrides the target runtime derived from the source model.",
        example="--target_runtime qnn_lib_aarch64_android",
    ),
    OptionSpec(
        name="output_names",
        kind=Kind.NAME_LIST,
        jobs=_COMPILE,
        metavar='"<name>[,<name>]..."',
        requires=(OneNamePerOutput(),),
        default_text="output_0, output_1, ...",
        help="Overrides the output names: a comma separated list with one name per output.",
        example='--output_names "new_name_0,new_name_1"',
    ),
    OptionSpec(
        name="force_channel_last_input",
        kind=Kind.NAME_LIST,
        jobs=_COMPILE,
        runtimes=frozenset(RUNTIMES) - {"onnx"},
        runtime_rule="cannot be used when the target runtime is onnx",
        metavar='"<name>[,<name>]..."',
        default_text="the model's input layout is kept",
        help=(
            "Inputs (comma separated names) to consume in channel-last layout, avoiding the "
            "transposes the compiler otherwise adds."
        ),
        example='--force_channel_last_input "image,indices"',
    ),
    OptionSpec(
        name="force_channel_last_output",
        kind=Kind.NAME_LIST,
        jobs=_COMPILE,
        runtimes=frozenset(RUNTIMES) - {"onnx"},
        runtime_rule="cannot be used when the target runtime is onnx",
        metavar='"<name>[,<name>]..."',
        requires=(NamesFromOutputs("output_names"),),
        default_text="the model's output layout is kept",
        help=(
            "Outputs (comma separated names) to produce in channel-last layout; the names are "
            "the default output names or those given with --output_names."
        ),
        example='--force_channel_last_output "output_0,output_1"',
    ),
    OptionSpec(
        name="quantize_full_type",
        kind=Kind.ENUM,
        jobs=_COMPILE,
        metavar="<type>",
        choices=("int8", "int16", "w8a16", "w4a8", "w4a16"),
        choice_help={
            "int8": "activations and weights int8",
            "int16": "activations and weights int16",
            "w8a16": "int8 weights, int16 activations (recommended over int16)",
            "w4a8": "int4 weights, int8 activations",
            "w4a16": "int4 weights, int16 activations",
        },
        default_text="no quantization",
        help=(
            "Quantize an unquantized model, calibrated on the job's dataset or, without one, on "
            "random data (then only the performance is meaningful, not the results)."
        ),
        example="--quantize_full_type int8",
    ),
    OptionSpec(
        name="quantize_io",
        kind=Kind.FLAG,
        jobs=_COMPILE,
        metavar="[true|false]",
        default=False,
        help="Quantize the inputs and outputs too when quantizing a model.",
        example="--quantize_io",
    ),
    OptionSpec(
        name="quantize_io_type",
        kind=Kind.ENUM,
        jobs=_COMPILE,
        runtimes=frozenset({"tflite"}),
        metavar="<type>",
        choices=("int8", "uint8"),
        requires=(Requires("quantize_io", True), RequiresIfGiven("quantize_full_type", ("int8",))),
        default_text="determined by the runtime and quantization type (int8 for tflite + int8)",
        help="Input/output type with --quantize_io; only for TensorFlow Lite with int8.",
        example="--quantize_io --quantize_io_type uint8",
    ),
    OptionSpec(
        name="qnn_context_binary_vtcm",
        kind=Kind.INT,
        jobs=_COMPILE,
        runtimes=frozenset({"qnn_context_binary"}),
        runtime_rule="can only be used with --target_runtime qnn_context_binary",
        metavar="<num>",
        value_range=Range(low=0),
        default=4,
        help="VTCM memory to reserve and use, in MB; 0 uses the device's maximum.",
        example="--qnn_context_binary_vtcm 2",
    ),
    OptionSpec(
        name="qnn_context_binary_optimization_level",
        kind=Kind.INT,
        jobs=_COMPILE,
        runtimes=frozenset({"qnn_context_binary"}),
        runtime_rule="can only be used with --target_runtime qnn_context_binary",
        metavar="<num>",
        value_range=Range(low=1, high=3),
        default=2,
        help=(
            "Graph optimization: 1 fast preparation, less optimal graph; 2 longer preparation, "
            "more optimal graph; 3 longest preparation, most likely even more optimal graph."
        ),
        example="--qnn_context_binary_optimization_level 3",
    ),
    # -------------------------------------------------- profile and inference
    OptionSpec(
        name="dequantize_outputs",
        kind=Kind.FLAG,
        jobs=_RUN,
        metavar="[true|false]",
        default=True,
        help="Dequantize the outputs.",
        example="--dequantize_outputs false",
    ),
    OptionSpec(
        name="tflite_delegates",
        kind=Kind.ENUM_LIST,
        jobs=_RUN,
        runtimes=frozenset({"tflite"}),
        metavar="<delegate>[,<delegate>]...",
        choices=("qnn", "qnn-gpu", "nnapi", "nnapi-gpu", "gpu", "xnnpack"),
        default=(),
        default_text="chosen from the compute units",
        help="TensorFlow Lite delegates to load and target, used in the order given.",
        example="--tflite_delegates qnn,qnn-gpu",
    ),
    OptionSpec(
        name="tflite_options",
        kind=Kind.SUB_OPTIONS,
        jobs=_RUN,
        runtimes=frozenset({"tflite"}),
        metavar='"<option>[;<option>]..."',
        sub_tables=TFLITE_TABLES,
        default_text="each sub-option's own default",
        help="Semicolon separated key=value sub-options for the TensorFlow Lite delegates.",
        example='--tflite_options "number_of_threads=4;qnn_htp_precision=kHtpQuantized"',
    ),
    OptionSpec(
        name="qnn_options",
        kind=Kind.SUB_OPTIONS,
        jobs=_ALL_JOBS,
        runtimes=frozenset({"qnn_lib_aarch64_android", "qnn_context_binary"}),
        runtime_rule=(
            "can only be used when the target runtime is qnn_lib_aarch64_android, or "
            "qnn_context_binary (a context binary runs on the same QNN runtime)"
        ),
        metavar='"<option>[;<option>]..."',
        sub_tables=QNN_TABLES,
        default_text="each sub-option's own default",
        help=(
            "Semicolon separated key=value sub-options for Qualcomm AI Engine Direct. Applies to "
            "QNN model libraries (.so) and, in devicelab, to QNN context binaries (.bin). A "
            "compile job takes only context_enable_graphs (one name, recorded with the binary)."
        ),
        example='--qnn_options "context_priority=HIGH;context_htp_performance_mode=BALANCED"',
    ),
    OptionSpec(
        name="onnx_execution_providers",
        kind=Kind.ENUM_LIST,
        jobs=_RUN,
        runtimes=frozenset({"onnx"}),
        metavar="<ep>[,<ep>]...",
        choices=("qnn", "qnn-gpu"),
        default=(),
        default_text="chosen from the compute units",
        help="ONNX Runtime execution providers to load and target, used in the order given.",
        example="--onnx_execution_providers qnn,qnn-gpu",
    ),
    # ---------------------------------------------------------------- profile
    OptionSpec(
        name="max_profiler_iterations",
        kind=Kind.INT,
        jobs=_PROFILE,
        metavar="<num>",
        value_range=Range(low=1, high=_INT32_MAX),
        default=100,
        help=(
            "Maximum number of profiling iterations; fewer run when --max_profiler_time "
            "would be exceeded."
        ),
        example="--max_profiler_iterations=50",
    ),
    OptionSpec(
        name="max_profiler_time",
        kind=Kind.FLOAT,
        jobs=_PROFILE,
        metavar="<seconds>",
        value_range=Range(low=0, low_open=True, high=600),
        default=600.0,
        help=(
            "Soft limit in seconds on the profiling loop: it stops when the running average "
            "predicts another iteration would exceed it."
        ),
        example="--max_profiler_time=30",
    ),
    # ----------------------------------------------------------- every job
    OptionSpec(
        name="qairt_version",
        kind=Kind.TEXT,
        jobs=_ALL_JOBS,
        metavar="<version>",
        default_text="the QNN SDK the device (or this host, for a compile) has",
        help=(
            "The cloud's choice among its QAIRT (QNN SDK) versions, e.g. 2.50, default or "
            "latest. devicelab runs the one QNN SDK each device has: the version is accepted "
            "and recorded, and the result warns when the version that ran differs."
        ),
        example="--qairt_version 2.50",
    ),
)

OPTIONS_BY_NAME = {spec.name: spec for spec in OPTIONS}

#: The sub-options a compile job takes (the others apply when the model runs).
COMPILE_SUB_OPTIONS: dict[str, tuple[str, ...]] = {"qnn_options": ("context_enable_graphs",)}
