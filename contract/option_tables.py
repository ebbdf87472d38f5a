"""The sub-option tables of ``--tflite_options`` and ``--qnn_options``: the one declaration.

Declared from the five option tables of the cloud service devicelab follows (Qualcomm AI
Hub's profile and inference options; ``OPTIONS.md`` shows them as generated from here),
with its spellings and defaults. A ``default`` of None means it names none: the
delegate or backend keeps its own. Ranges those tables leave implicit are decided
here, each with its reason.

Both sides read these tables: the controller parses, validates and documents
the sub-options with them (``controller/options``); the agent re-checks the
values it receives and maps each sub-option by name onto its runtime
(``agent/runtimes/litert_delegates.py``, ``agent/runtimes/qnn_ep_options.py``), adding
only what is its own: the library key and the value conversion. That is why
they live in ``contract/``, which the agent carries: it is deployed alone and must
not import the controller. Pure data; standard library only.
"""

from __future__ import annotations

from contract.option_spec import Kind, Range, Requires, Spec, SubTable

_HTP_MODES = (
    "LowPowerSaver",
    "PowerSaver",
    "HighPowerSaver",
    "LowBalanced",
    "Balanced",
    "HighPerformance",
    "SustainedHighPerformance",
    "Burst",
)
_GPU_PRIORITIES = tuple(
    f"TFLITE_GPU_INFERENCE_PRIORITY_{p}"
    for p in ("AUTO", "MAX_PRECISION", "MIN_LATENCY", "MIN_MEMORY_USAGE")
)
_PRIORITIES = ("LOW", "NORMAL", "NORMAL_HIGH", "HIGH")
#: Counts and sizes: the documented table gives no bound, but a negative amount means nothing.
_NON_NEGATIVE = Range(low=0)
_POSITIVE = Range(low=0, low_open=True)


def _bool(name: str, default: bool | None, help: str) -> Spec:
    return Spec(name=name, kind=Kind.BOOL, metavar="true|false", default=default, help=help)


def _enum(name: str, choices: tuple[str, ...], default: str | None, help: str) -> Spec:
    return Spec(
        name=name, kind=Kind.ENUM, metavar="<option>", choices=choices, default=default, help=help
    )


def _int(
    name: str, value_range: Range, default: int | None, help: str, metavar: str = "<num>"
) -> Spec:
    return Spec(
        name=name,
        kind=Kind.INT,
        metavar=metavar,
        value_range=value_range,
        default=default,
        help=help,
    )


TFLITE_GENERAL = SubTable(
    title="TensorFlow Lite options",
    help="Sub-options of --tflite_options that apply to all delegates.",
    options=(
        _bool(
            "enable_fallback",
            True,
            "Fall back to lower-priority delegates when one fails to prepare; when false, any "
            "delegate failure fails the job.",
        ),
        _bool(
            "invoke_interpreter_on_cold_load",
            False,
            "Run the interpreter during cold load to validate the delegates; failing "
            "delegates are dropped and the model reloaded.",
        ),
        _bool(
            "allow_fp32_as_fp16",
            True,
            "Allow delegates to run fp32 operations in reduced fp16 precision; delegate "
            "options may override this.",
        ),
        _bool("force_opengl", False, "Force the use of OpenGL when possible (for debugging)."),
        # -1 is the documented sentinel for hardware_concurrency() / 2; 0 threads cannot run.
        _int(
            "number_of_threads",
            Range(low=1, also=(-1,)),
            -1,
            "Number of threads; -1 uses half the hardware threads.",
        ),
        _bool(
            "release_dynamic_tensors",
            False,
            "Release intermediate dynamic tensors once unused: lower peak memory, slower "
            "inference.",
        ),
    ),
)

TFLITE_QNN = SubTable(
    title="TensorFlow Lite delegate options for Qualcomm AI Engine Direct",
    help=(
        "Sub-options of --tflite_options for the QNN delegate (--tflite_delegates qnn / "
        "qnn-gpu). Not every option is available on every backend."
    ),
    options=(
        _enum(
            "qnn_log_level",
            (
                "kLogOff",
                "kLogLevelError",
                "kLogLevelWarn",
                "kLogLevelInfo",
                "kLogLevelVerbose",
                "kLogLevelDebug",
            ),
            "kLogLevelWarn",
            "Log level of the QNN delegate.",
        ),
        _enum(
            "qnn_graph_priority",
            (
                "kQnnPriorityDefault",
                "kQnnPriorityLow",
                "kQnnPriorityNormal",
                "kQnnPriorityNormalHigh",
                "kQnnPriorityHigh",
                "kQnnPriorityUndefined",
            ),
            "kQnnPriorityDefault",
            "Priority of the underlying graph.",
        ),
        _enum(
            "qnn_gpu_precision",
            ("kGpuUserProvided", "kGpuFp32", "kGpuFp16", "kGpuHybrid"),
            "kGpuFp16",
            "Precision of the GPU backend for tensors that are neither inputs nor outputs.",
        ),
        _enum(
            "qnn_gpu_performance_mode",
            ("kGpuDefault", "kGpuHigh", "kGpuNormal", "kGpuLow"),
            "kGpuHigh",
            "GPU performance mode; higher performance draws more power.",
        ),
        _enum(
            "qnn_dsp_performance_mode",
            tuple(f"kDsp{m}" for m in _HTP_MODES),
            "kDspBurst",
            "DSP performance mode.",
        ),
        Spec(
            name="qnn_dsp_encoding",
            kind=Kind.ENUM,
            metavar="<option>",
            choices=("kDspStatic", "kDspDynamic"),
            default="kDspStatic",
            choice_help={
                "kDspStatic": "quantization parameters from the model",
                "kDspDynamic": "quantization parameters from the model inputs",
            },
            help="Origin of the quantization parameters.",
        ),
        _enum(
            "qnn_htp_performance_mode",
            tuple(f"kHtp{m}" for m in _HTP_MODES),
            "kHtpBurst",
            "HTP performance mode.",
        ),
        _enum(
            "qnn_htp_precision",
            ("kHtpQuantized", "kHtpFp16"),
            "kHtpFp16",
            "HTP precision (8 Gen 1 and newer); the default kHtpFp16 applies where supported.",
        ),
        _enum(
            "qnn_htp_optimization_strategy",
            ("kHtpOptimizeForInference", "kHtpOptimizeForPrepare"),
            "kHtpOptimizeForInference",
            "Optimize for inference time or for load time.",
        ),
        _bool(
            "qnn_htp_use_conv_hmx",
            True,
            "Use short conv HMX: may be faster, but short-depth or asymmetric-weight "
            "convolutions may be inaccurate.",
        ),
        _bool(
            "qnn_htp_use_fold_relu",
            False,
            "Fold Relu into convolutions: may be faster; needs conv quantization ranges "
            "within the Relu's.",
        ),
        _int(
            "qnn_htp_vtcm_size",
            _POSITIVE,
            None,
            "VTCM size in MB (must be > 0; clipped to what the device has). Unset: the device "
            "default.",
            "<size>",
        ),
        _int(
            "qnn_htp_num_hvx_threads",
            _POSITIVE,
            None,
            "Number of HVX threads (must be > 0; clipped to the device maximum).",
        ),
    ),
)

TFLITE_GPUV2 = SubTable(
    title="TensorFlow Lite delegate options for GPUv2",
    help="Sub-options of --tflite_options for the GPUv2 delegate (--tflite_delegates gpu).",
    options=(
        Spec(
            name="gpu_inference_preference",
            kind=Kind.ENUM,
            metavar="<option>",
            choices=tuple(
                f"TFLITE_GPU_INFERENCE_PREFERENCE_{p}"
                for p in ("FAST_SINGLE_ANSWER", "SUSTAINED_SPEED", "BALANCED")
            ),
            default="TFLITE_GPU_INFERENCE_PREFERENCE_SUSTAINED_SPEED",
            choice_help={
                "TFLITE_GPU_INFERENCE_PREFERENCE_FAST_SINGLE_ANSWER": "used once: init time counts",
                "TFLITE_GPU_INFERENCE_PREFERENCE_SUSTAINED_SPEED": "maximize throughput over "
                "many inputs",
                "TFLITE_GPU_INFERENCE_PREFERENCE_BALANCED": "balance init latency and throughput",
            },
            help="Compilation/runtime trade-off.",
        ),
        _enum(
            "gpu_inference_priority1",
            _GPU_PRIORITIES,
            "TFLITE_GPU_INFERENCE_PRIORITY_MIN_LATENCY",
            "Top priority. For maximum precision use MAX_PRECISION, AUTO, AUTO for priority1-3.",
        ),
        _enum(
            "gpu_inference_priority2",
            _GPU_PRIORITIES,
            "TFLITE_GPU_INFERENCE_PRIORITY_MIN_MEMORY_USAGE",
            "Second priority.",
        ),
        _enum(
            "gpu_inference_priority3",
            _GPU_PRIORITIES,
            "TFLITE_GPU_INFERENCE_PRIORITY_MAX_PRECISION",
            "Third priority.",
        ),
        # At least one partition: a limit of 0 would delegate nothing, use no gpu delegate instead.
        _int(
            "gpu_max_delegated_partitions",
            Range(low=1),
            1,
            "Maximum number of graph partitions to delegate.",
        ),
    ),
)

TFLITE_NNAPI = SubTable(
    title="TensorFlow Lite delegate options for NNAPI",
    help=(
        "Sub-options of --tflite_options for the NNAPI delegate (--tflite_delegates nnapi / "
        "nnapi-gpu)."
    ),
    options=(
        _enum(
            "nnapi_execution_preference",
            ("kLowPower", "kFastSingleAnswer", "kSustainedSpeed"),
            "kSustainedSpeed",
            "Power/performance trade-off.",
        ),
        _int(
            "nnapi_max_number_delegated_partitions",
            Range(),
            3,
            "Maximum number of delegated partitions, largest first; <= 0 means no limit.",
            "<max>",
        ),
        _bool("nnapi_allow_fp16", True, "Allow fp32 to run as fp16."),
    ),
)

QNN = SubTable(
    title="Qualcomm AI Engine Direct options",
    help="Sub-options of --qnn_options. Not every option is available on every backend.",
    options=(
        _int(
            "context_async_execution_queue_depth_numeric",
            _NON_NEGATIVE,
            None,
            "Asynchronous execution queue depth.",
        ),
        Spec(
            name="context_enable_graphs",
            kind=Kind.NAME_LIST,
            metavar="<name>[,<name>]...",
            default_text="all graphs",
            help=(
                "Graphs to deserialize from a context binary; an unknown graph name fails the job."
            ),
        ),
        _enum(
            "context_error_reporting_options_level",
            ("BRIEF", "DETAILED"),
            None,
            "Error reporting level.",
        ),
        _int(
            "context_error_reporting_options_storage_limit",
            _NON_NEGATIVE,
            None,
            "Memory reserved for error information, in KB.",
            "<kb>",
        ),
        _int(
            "context_memory_limit_hint",
            _NON_NEGATIVE,
            None,
            "Peak memory limit hint of a deserialized context, in MB.",
            "<mb>",
        ),
        _enum(
            "context_priority", _PRIORITIES, None, "Default priority of the graphs in this context."
        ),
        Spec(
            name="context_gpu_performance_hint",
            kind=Kind.ENUM,
            metavar="<option>",
            choices=("HIGH", "NORMAL", "LOW"),
            default="HIGH",
            choice_help={
                "HIGH": "maximize GPU clocks",
                "NORMAL": "balance with power management",
                "LOW": "lowest power, higher latency",
            },
            help="GPU performance hint.",
        ),
        _bool("context_gpu_use_gl_buffers", None, "Use OpenGL buffers."),
        _enum(
            "context_htp_performance_mode",
            (
                "EXTREME_POWER_SAVER",
                "LOW_POWER_SAVER",
                "POWER_SAVER",
                "HIGH_POWER_SAVER",
                "LOW_BALANCED",
                "BALANCED",
                "HIGH_PERFORMANCE",
                "SUSTAINED_HIGH_PERFORMANCE",
                "BURST",
            ),
            "BURST",
            "HTP performance mode.",
        ),
        _enum("default_graph_priority", _PRIORITIES, None, "Default graph priority."),
        Spec(
            name="default_graph_gpu_precision",
            kind=Kind.ENUM,
            metavar="<option>",
            choices=("FLOAT32", "FLOAT16", "HYBRID", "USER_PROVIDED"),
            default="USER_PROVIDED",
            choice_help={
                "FLOAT32": "FP32 tensors and accumulators",
                "FLOAT16": "FP16 tensors and accumulators where possible",
                "HYBRID": "FP16 tensors, FP32 accumulators",
                "USER_PROVIDED": "keep the model's tensor types",
            },
            help="GPU precision mode.",
        ),
        _bool(
            "default_graph_gpu_disable_memory_optimizations",
            None,
            "Give every tensor its own memory (no sharing).",
        ),
        _bool("default_graph_gpu_disable_node_optimizations", None, "Do not fuse operations."),
        _bool("default_graph_gpu_disable_queue_recording", None, "Disable GPU queue recording."),
        _bool(
            "default_graph_htp_disable_fold_relu_activation_into_conv",
            False,
            "Do not fold Relu/ReluMinMax into a preceding convolution.",
        ),
        _int(
            "default_graph_htp_num_hvx_threads", _POSITIVE, 4, "HVX threads reserved for the graph."
        ),
        _enum(
            "default_graph_htp_optimization_type",
            ("FINALIZE_OPTIMIZATION_FLAG",),
            None,
            "Optimization to balance prepare and execution; set its level with "
            "default_graph_htp_optimization_value.",
        ),
        Spec(
            name="default_graph_htp_optimization_value",
            kind=Kind.INT,
            value_range=Range(low=1, high=3),
            metavar="<num>",
            requires=(Requires("default_graph_htp_optimization_type"),),
            help=(
                "Optimization level: 1 fastest prepare, 2 longer prepare and better graph, 3 "
                "longest prepare and likely best graph."
            ),
        ),
        _enum(
            "default_graph_htp_precision",
            ("FLOAT16",),
            None,
            "FLOAT16 runs the graph in fp16 math on float32 inputs; unset, HTP expects a "
            "quantized network.",
        ),
        _bool(
            "default_graph_htp_disable_short_depth_conv_on_hmx",
            False,
            "Run all convolutions with HMX instructions.",
        ),
        _int(
            "default_graph_htp_vtcm_size",
            _NON_NEGATIVE,
            4,
            "VTCM to reserve, in MB; 0 uses the maximum.",
            "<mb>",
        ),
    ),
)

TFLITE_TABLES = (TFLITE_GENERAL, TFLITE_QNN, TFLITE_GPUV2, TFLITE_NNAPI)
QNN_TABLES = (QNN,)


def _by_name(tables: tuple[SubTable, ...]) -> dict[str, Spec]:
    return {spec.name: spec for table in tables for spec in table.options}


#: Every ``--tflite_options`` sub-option by name, in table order.
TFLITE_SUB_OPTIONS = _by_name(TFLITE_TABLES)
#: Every ``--qnn_options`` sub-option by name, in table order.
QNN_SUB_OPTIONS = _by_name(QNN_TABLES)
