from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_UNSPECIFIED: _ClassVar[Stage]
    STAGE_FIRST_LOAD: _ClassVar[Stage]
    STAGE_WARM_LOAD: _ClassVar[Stage]
    STAGE_WARMUP: _ClassVar[Stage]
    STAGE_INFERENCE: _ClassVar[Stage]
    STAGE_LAYER_PROFILE: _ClassVar[Stage]
STAGE_UNSPECIFIED: Stage
STAGE_FIRST_LOAD: Stage
STAGE_WARM_LOAD: Stage
STAGE_WARMUP: Stage
STAGE_INFERENCE: Stage
STAGE_LAYER_PROFILE: Stage

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingReply(_message.Message):
    __slots__ = ("agent_version", "pid", "uptime_s", "paths")
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    pid: int
    uptime_s: float
    paths: AgentPaths
    def __init__(self, agent_version: _Optional[str] = ..., pid: _Optional[int] = ..., uptime_s: _Optional[float] = ..., paths: _Optional[_Union[AgentPaths, _Mapping]] = ...) -> None: ...

class DeviceInfoRequest(_message.Message):
    __slots__ = ("library_dirs",)
    LIBRARY_DIRS_FIELD_NUMBER: _ClassVar[int]
    library_dirs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, library_dirs: _Optional[_Iterable[str]] = ...) -> None: ...

class RuntimeInfo(_message.Message):
    __slots__ = ("name", "version", "available", "accelerators", "backends", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    available: bool
    accelerators: _containers.RepeatedScalarFieldContainer[str]
    backends: _containers.RepeatedScalarFieldContainer[str]
    detail: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., available: _Optional[bool] = ..., accelerators: _Optional[_Iterable[str]] = ..., backends: _Optional[_Iterable[str]] = ..., detail: _Optional[str] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ("hostname", "os", "os_release", "machine", "cpu_count", "memory_total_bytes", "runtimes", "agent_version", "python_version")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    OS_RELEASE_FIELD_NUMBER: _ClassVar[int]
    MACHINE_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    os: str
    os_release: str
    machine: str
    cpu_count: int
    memory_total_bytes: int
    runtimes: _containers.RepeatedCompositeFieldContainer[RuntimeInfo]
    agent_version: str
    python_version: str
    def __init__(self, hostname: _Optional[str] = ..., os: _Optional[str] = ..., os_release: _Optional[str] = ..., machine: _Optional[str] = ..., cpu_count: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ..., runtimes: _Optional[_Iterable[_Union[RuntimeInfo, _Mapping]]] = ..., agent_version: _Optional[str] = ..., python_version: _Optional[str] = ...) -> None: ...

class ArtifactRef(_message.Message):
    __slots__ = ("sha256",)
    SHA256_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    def __init__(self, sha256: _Optional[str] = ...) -> None: ...

class ArtifactStatus(_message.Message):
    __slots__ = ("sha256", "present", "size_bytes")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    present: bool
    size_bytes: int
    def __init__(self, sha256: _Optional[str] = ..., present: _Optional[bool] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class ArtifactChunk(_message.Message):
    __slots__ = ("sha256", "filename", "total_bytes", "data")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    filename: str
    total_bytes: int
    data: bytes
    def __init__(self, sha256: _Optional[str] = ..., filename: _Optional[str] = ..., total_bytes: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class AdoptRequest(_message.Message):
    __slots__ = ("sha256", "filename", "incoming_name")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    INCOMING_NAME_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    filename: str
    incoming_name: str
    def __init__(self, sha256: _Optional[str] = ..., filename: _Optional[str] = ..., incoming_name: _Optional[str] = ...) -> None: ...

class AgentPaths(_message.Message):
    __slots__ = ("workdir", "incoming_dir")
    WORKDIR_FIELD_NUMBER: _ClassVar[int]
    INCOMING_DIR_FIELD_NUMBER: _ClassVar[int]
    workdir: str
    incoming_dir: str
    def __init__(self, workdir: _Optional[str] = ..., incoming_dir: _Optional[str] = ...) -> None: ...

class InputSpec(_message.Message):
    __slots__ = ("name", "shape", "dtype")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ...) -> None: ...

class RunOptions(_message.Message):
    __slots__ = ("compute_units", "tflite_delegates", "tflite_options", "qnn_options", "onnx_execution_providers", "input_specs", "soc_model", "htp_arch", "library_dirs", "dequantize_outputs", "htp_fp16", "vtcm_mb", "output_quantization")
    class TfliteOptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class QnnOptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class OutputQuantizationEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Quantization
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Quantization, _Mapping]] = ...) -> None: ...
    COMPUTE_UNITS_FIELD_NUMBER: _ClassVar[int]
    TFLITE_DELEGATES_FIELD_NUMBER: _ClassVar[int]
    TFLITE_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    QNN_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ONNX_EXECUTION_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    INPUT_SPECS_FIELD_NUMBER: _ClassVar[int]
    SOC_MODEL_FIELD_NUMBER: _ClassVar[int]
    HTP_ARCH_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_DIRS_FIELD_NUMBER: _ClassVar[int]
    DEQUANTIZE_OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    HTP_FP16_FIELD_NUMBER: _ClassVar[int]
    VTCM_MB_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    compute_units: _containers.RepeatedScalarFieldContainer[str]
    tflite_delegates: _containers.RepeatedScalarFieldContainer[str]
    tflite_options: _containers.ScalarMap[str, str]
    qnn_options: _containers.ScalarMap[str, str]
    onnx_execution_providers: _containers.RepeatedScalarFieldContainer[str]
    input_specs: _containers.RepeatedCompositeFieldContainer[InputSpec]
    soc_model: str
    htp_arch: str
    library_dirs: _containers.RepeatedScalarFieldContainer[str]
    dequantize_outputs: bool
    htp_fp16: str
    vtcm_mb: str
    output_quantization: _containers.MessageMap[str, Quantization]
    def __init__(self, compute_units: _Optional[_Iterable[str]] = ..., tflite_delegates: _Optional[_Iterable[str]] = ..., tflite_options: _Optional[_Mapping[str, str]] = ..., qnn_options: _Optional[_Mapping[str, str]] = ..., onnx_execution_providers: _Optional[_Iterable[str]] = ..., input_specs: _Optional[_Iterable[_Union[InputSpec, _Mapping]]] = ..., soc_model: _Optional[str] = ..., htp_arch: _Optional[str] = ..., library_dirs: _Optional[_Iterable[str]] = ..., dequantize_outputs: _Optional[bool] = ..., htp_fp16: _Optional[str] = ..., vtcm_mb: _Optional[str] = ..., output_quantization: _Optional[_Mapping[str, Quantization]] = ...) -> None: ...

class Quantization(_message.Message):
    __slots__ = ("scale", "zero_point")
    SCALE_FIELD_NUMBER: _ClassVar[int]
    ZERO_POINT_FIELD_NUMBER: _ClassVar[int]
    scale: float
    zero_point: int
    def __init__(self, scale: _Optional[float] = ..., zero_point: _Optional[int] = ...) -> None: ...

class ProfileRequest(_message.Message):
    __slots__ = ("job_id", "artifact_sha256", "options", "max_iterations", "max_time_s", "warmup_iterations", "layer_profile_iterations", "model_filename", "heartbeat_s", "model_type")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_SHA256_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_TIME_S_FIELD_NUMBER: _ClassVar[int]
    WARMUP_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    LAYER_PROFILE_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FILENAME_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_S_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    artifact_sha256: str
    options: RunOptions
    max_iterations: int
    max_time_s: float
    warmup_iterations: int
    layer_profile_iterations: int
    model_filename: str
    heartbeat_s: float
    model_type: str
    def __init__(self, job_id: _Optional[str] = ..., artifact_sha256: _Optional[str] = ..., options: _Optional[_Union[RunOptions, _Mapping]] = ..., max_iterations: _Optional[int] = ..., max_time_s: _Optional[float] = ..., warmup_iterations: _Optional[int] = ..., layer_profile_iterations: _Optional[int] = ..., model_filename: _Optional[str] = ..., heartbeat_s: _Optional[float] = ..., model_type: _Optional[str] = ...) -> None: ...

class StageStarted(_message.Message):
    __slots__ = ("stage",)
    STAGE_FIELD_NUMBER: _ClassVar[int]
    stage: Stage
    def __init__(self, stage: _Optional[_Union[Stage, str]] = ...) -> None: ...

class LoadDone(_message.Message):
    __slots__ = ("stage", "time_us", "peak_memory_bytes", "memory_increase_bytes")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_US_FIELD_NUMBER: _ClassVar[int]
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_INCREASE_BYTES_FIELD_NUMBER: _ClassVar[int]
    stage: Stage
    time_us: int
    peak_memory_bytes: int
    memory_increase_bytes: int
    def __init__(self, stage: _Optional[_Union[Stage, str]] = ..., time_us: _Optional[int] = ..., peak_memory_bytes: _Optional[int] = ..., memory_increase_bytes: _Optional[int] = ...) -> None: ...

class IterationTimes(_message.Message):
    __slots__ = ("first_index", "latencies_us")
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    LATENCIES_US_FIELD_NUMBER: _ClassVar[int]
    first_index: int
    latencies_us: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, first_index: _Optional[int] = ..., latencies_us: _Optional[_Iterable[int]] = ...) -> None: ...

class Layer(_message.Message):
    __slots__ = ("name", "type", "compute_unit", "execution_time_us", "execution_cycles", "has_cycles")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_UNIT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_US_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_CYCLES_FIELD_NUMBER: _ClassVar[int]
    HAS_CYCLES_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    compute_unit: str
    execution_time_us: float
    execution_cycles: int
    has_cycles: bool
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., compute_unit: _Optional[str] = ..., execution_time_us: _Optional[float] = ..., execution_cycles: _Optional[int] = ..., has_cycles: _Optional[bool] = ...) -> None: ...

class LayerIteration(_message.Message):
    __slots__ = ("index", "layers", "wall_time_us")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_US_FIELD_NUMBER: _ClassVar[int]
    index: int
    layers: _containers.RepeatedCompositeFieldContainer[Layer]
    wall_time_us: int
    def __init__(self, index: _Optional[int] = ..., layers: _Optional[_Iterable[_Union[Layer, _Mapping]]] = ..., wall_time_us: _Optional[int] = ...) -> None: ...

class Applied(_message.Message):
    __slots__ = ("runtime", "runtime_version", "accelerators", "fallbacks", "warnings", "settings", "inputs", "outputs")
    class SettingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    runtime: str
    runtime_version: str
    accelerators: _containers.RepeatedScalarFieldContainer[str]
    fallbacks: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    settings: _containers.ScalarMap[str, str]
    inputs: _containers.RepeatedCompositeFieldContainer[InputSpec]
    outputs: _containers.RepeatedCompositeFieldContainer[InputSpec]
    def __init__(self, runtime: _Optional[str] = ..., runtime_version: _Optional[str] = ..., accelerators: _Optional[_Iterable[str]] = ..., fallbacks: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ..., settings: _Optional[_Mapping[str, str]] = ..., inputs: _Optional[_Iterable[_Union[InputSpec, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[InputSpec, _Mapping]]] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("iterations", "stop_reason", "loop_time_s", "peak_memory_bytes", "memory_increase_bytes", "loop_cpu")
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    LOOP_TIME_S_FIELD_NUMBER: _ClassVar[int]
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_INCREASE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOOP_CPU_FIELD_NUMBER: _ClassVar[int]
    iterations: int
    stop_reason: str
    loop_time_s: float
    peak_memory_bytes: int
    memory_increase_bytes: int
    loop_cpu: LoopCpu
    def __init__(self, iterations: _Optional[int] = ..., stop_reason: _Optional[str] = ..., loop_time_s: _Optional[float] = ..., peak_memory_bytes: _Optional[int] = ..., memory_increase_bytes: _Optional[int] = ..., loop_cpu: _Optional[_Union[LoopCpu, _Mapping]] = ...) -> None: ...

class LoopCpu(_message.Message):
    __slots__ = ("job_user_s", "job_system_s", "agent_user_s", "agent_system_s", "agent_context_switches")
    JOB_USER_S_FIELD_NUMBER: _ClassVar[int]
    JOB_SYSTEM_S_FIELD_NUMBER: _ClassVar[int]
    AGENT_USER_S_FIELD_NUMBER: _ClassVar[int]
    AGENT_SYSTEM_S_FIELD_NUMBER: _ClassVar[int]
    AGENT_CONTEXT_SWITCHES_FIELD_NUMBER: _ClassVar[int]
    job_user_s: float
    job_system_s: float
    agent_user_s: float
    agent_system_s: float
    agent_context_switches: int
    def __init__(self, job_user_s: _Optional[float] = ..., job_system_s: _Optional[float] = ..., agent_user_s: _Optional[float] = ..., agent_system_s: _Optional[float] = ..., agent_context_switches: _Optional[int] = ...) -> None: ...

class ErrorInfo(_message.Message):
    __slots__ = ("kind", "error_type", "message")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[ErrorInfo.Kind]
        USER: _ClassVar[ErrorInfo.Kind]
        INTERNAL: _ClassVar[ErrorInfo.Kind]
        CANCELLED: _ClassVar[ErrorInfo.Kind]
    KIND_UNSPECIFIED: ErrorInfo.Kind
    USER: ErrorInfo.Kind
    INTERNAL: ErrorInfo.Kind
    CANCELLED: ErrorInfo.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: ErrorInfo.Kind
    error_type: str
    message: str
    def __init__(self, kind: _Optional[_Union[ErrorInfo.Kind, str]] = ..., error_type: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("since_last_event_s", "process_state", "process_cpu_s")
    SINCE_LAST_EVENT_S_FIELD_NUMBER: _ClassVar[int]
    PROCESS_STATE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_CPU_S_FIELD_NUMBER: _ClassVar[int]
    since_last_event_s: float
    process_state: str
    process_cpu_s: float
    def __init__(self, since_last_event_s: _Optional[float] = ..., process_state: _Optional[str] = ..., process_cpu_s: _Optional[float] = ...) -> None: ...

class ProfileEvent(_message.Message):
    __slots__ = ("stage_started", "load_done", "applied", "iterations", "layer_iteration", "done", "error", "heartbeat")
    STAGE_STARTED_FIELD_NUMBER: _ClassVar[int]
    LOAD_DONE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    LAYER_ITERATION_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    stage_started: StageStarted
    load_done: LoadDone
    applied: Applied
    iterations: IterationTimes
    layer_iteration: LayerIteration
    done: Summary
    error: ErrorInfo
    heartbeat: Heartbeat
    def __init__(self, stage_started: _Optional[_Union[StageStarted, _Mapping]] = ..., load_done: _Optional[_Union[LoadDone, _Mapping]] = ..., applied: _Optional[_Union[Applied, _Mapping]] = ..., iterations: _Optional[_Union[IterationTimes, _Mapping]] = ..., layer_iteration: _Optional[_Union[LayerIteration, _Mapping]] = ..., done: _Optional[_Union[Summary, _Mapping]] = ..., error: _Optional[_Union[ErrorInfo, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class Tensor(_message.Message):
    __slots__ = ("name", "dtype", "shape", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class InferRequest(_message.Message):
    __slots__ = ("job_id", "artifact_sha256", "options", "samples", "model_filename", "model_type")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_SHA256_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FILENAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    artifact_sha256: str
    options: RunOptions
    samples: _containers.RepeatedCompositeFieldContainer[Sample]
    model_filename: str
    model_type: str
    def __init__(self, job_id: _Optional[str] = ..., artifact_sha256: _Optional[str] = ..., options: _Optional[_Union[RunOptions, _Mapping]] = ..., samples: _Optional[_Iterable[_Union[Sample, _Mapping]]] = ..., model_filename: _Optional[str] = ..., model_type: _Optional[str] = ...) -> None: ...

class Sample(_message.Message):
    __slots__ = ("tensors",)
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    tensors: _containers.RepeatedCompositeFieldContainer[Tensor]
    def __init__(self, tensors: _Optional[_Iterable[_Union[Tensor, _Mapping]]] = ...) -> None: ...

class InferReply(_message.Message):
    __slots__ = ("samples", "applied")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[Sample]
    applied: Applied
    def __init__(self, samples: _Optional[_Iterable[_Union[Sample, _Mapping]]] = ..., applied: _Optional[_Union[Applied, _Mapping]] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelReply(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...
