"""ctypes binding of LiteRT's C API (``libLiteRt.so``) for per-op profiling.

Why a C binding: the Python ``Interpreter`` and ``CompiledModel`` wrappers expose
no profiler, but the C API of the ``libLiteRt.so`` that ships inside the
``ai_edge_litert`` wheel does (``LiteRtCompiledModelGetProfiler`` in LiteRT's public
headers, ``litert/c/litert_compiled_model.h``). The sequence is:
environment -> model from file -> options (CPU accelerator, opaque TOML options
``runtime_options_string`` = ``enable_profiling = true`` and ``xnnpack`` =
``num_threads = N`` [+ ``kernel_mode = "builtin"``]) -> compiled model ->
managed tensor buffers from the buffer requirements -> profiler start / run /
stop -> events.

Every signature below was read from LiteRT's public headers (``litert/c/
litert_environment.h``, ``litert_model.h``, ``litert_options.h``,
``litert_opaque_options.h``, ``litert_compiled_model.h``,
``litert_tensor_buffer.h``, ``litert_profiler.h``, ``litert_profiler_event.h``).

Struct layouts are where a binding crashes a process, so two of them are not
trusted blindly:

* ``LiteRtRankedTensorType`` changed size across releases; it only travels from
  one LiteRT call to the next, so it is kept as an opaque, oversized blob.
* ``ProfiledEventData`` is copied with the C++ definition, whose
  ``tflite::profiling::memory::MemoryUsage`` has 3 eight-byte fields in the
  wheel here (104-byte events; the stride was confirmed in the disassembly of
  ``LiteRtGetProfilerEvents``), while the C header's version of the struct
  declares 2 and newer LiteRT sources have 4. The events buffer is sized for the
  largest plausible layout, and the layout is chosen by checking every decoded
  event before any ``tag`` pointer is followed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.errors import AgentError, InvalidModelError, InvalidOptionError, RuntimeUnavailableError

LIBRARY_NAME = "libLiteRt.so"

# ProfiledEventData.event_type values (litert/c/litert_profiler_event.h).
EVENT_DEFAULT = 1  # LiteRT's own wrappers: "Invoke", "LiteRT::Run[...]"
EVENT_OPERATOR_INVOKE = 1 << 1  # a TFLite node on builtin kernels; metadata1 = node index
EVENT_DELEGATE_OPERATOR_INVOKE = 1 << 2  # inside a delegate node that is itself an event
EVENT_DELEGATE_PROFILED_OPERATOR_INVOKE = 1 << 3  # an XNNPACK operator; metadata1 = its index
_KNOWN_EVENT_TYPES = frozenset(1 << bit for bit in range(9))
_KNOWN_EVENT_SOURCES = frozenset((0, 1, 2))  # LITERT, TFLITE_INTERPRETER, TFLITE_DELEGATE

_OK = 0
_HW_ACCELERATOR_CPU = 1
_LOCK_READ, _LOCK_WRITE = 0, 1
_MAX_EVENT_BYTES = 256  # room per event for any layout below, so a wrong guess cannot overflow
_TENSOR_TYPE_WORDS = 64  # 512 bytes; LiteRtRankedTensorType is 72 bytes in current headers
_STATUS_NAMES = {
    1: "InvalidArgument",
    2: "MemoryAllocationFailure",
    3: "RuntimeFailure",
    4: "MissingInputTensor",
    5: "Unsupported",
    6: "NotFound",
    500: "FileIO",
    501: "InvalidFlatbuffer",
    502: "DynamicLoading",
    504: "Compilation",
}

_P = ctypes.c_void_p
_SIZE = ctypes.c_size_t
_INT = ctypes.c_int
_PTR = ctypes.POINTER
_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

# name -> (restype, argtypes); LiteRtStatus is a C enum, i.e. an int.
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "LiteRtCreateEnvironment": (_INT, [_INT, _P, _PTR(_P)]),
    "LiteRtDestroyEnvironment": (None, [_P]),
    "LiteRtCreateModelFromFile": (_INT, [_P, ctypes.c_char_p, _PTR(_P)]),
    "LiteRtDestroyModel": (None, [_P]),
    "LiteRtGetModelSignature": (_INT, [_P, _SIZE, _PTR(_P)]),
    "LiteRtGetNumSignatureInputs": (_INT, [_P, _PTR(_SIZE)]),
    "LiteRtGetNumSignatureOutputs": (_INT, [_P, _PTR(_SIZE)]),
    "LiteRtGetSignatureInputName": (_INT, [_P, _SIZE, _PTR(ctypes.c_char_p)]),
    "LiteRtGetSignatureOutputName": (_INT, [_P, _SIZE, _PTR(ctypes.c_char_p)]),
    "LiteRtGetSignatureInputTensorByIndex": (_INT, [_P, _SIZE, _PTR(_P)]),
    "LiteRtGetSignatureOutputTensorByIndex": (_INT, [_P, _SIZE, _PTR(_P)]),
    "LiteRtGetTensorName": (_INT, [_P, _PTR(ctypes.c_char_p)]),
    "LiteRtGetRankedTensorType": (_INT, [_P, _P]),
    "LiteRtCreateOptions": (_INT, [_PTR(_P)]),
    "LiteRtDestroyOptions": (None, [_P]),
    "LiteRtSetOptionsHardwareAccelerators": (_INT, [_P, _INT]),
    "LiteRtCreateOpaqueOptions": (_INT, [ctypes.c_char_p, _P, _DESTRUCTOR, _PTR(_P)]),
    "LiteRtDestroyOpaqueOptions": (None, [_P]),
    "LiteRtAddOpaqueOptions": (_INT, [_P, _P]),
    "LiteRtCreateCompiledModel": (_INT, [_P, _P, _P, _PTR(_P)]),
    "LiteRtDestroyCompiledModel": (None, [_P]),
    "LiteRtGetCompiledModelInputBufferRequirements": (_INT, [_P, _SIZE, _SIZE, _PTR(_P)]),
    "LiteRtGetCompiledModelOutputBufferRequirements": (_INT, [_P, _SIZE, _SIZE, _PTR(_P)]),
    "LiteRtCreateManagedTensorBufferFromRequirements": (_INT, [_P, _P, _P, _PTR(_P)]),
    "LiteRtDestroyTensorBuffer": (None, [_P]),
    "LiteRtGetTensorBufferPackedSize": (_INT, [_P, _PTR(_SIZE)]),
    "LiteRtLockTensorBuffer": (_INT, [_P, _PTR(_P), _INT]),
    "LiteRtUnlockTensorBuffer": (_INT, [_P]),
    "LiteRtRunCompiledModel": (_INT, [_P, _SIZE, _SIZE, _PTR(_P), _SIZE, _PTR(_P)]),
    "LiteRtCompiledModelGetProfiler": (_INT, [_P, _PTR(_P)]),
    "LiteRtStartProfiler": (_INT, [_P]),
    "LiteRtStopProfiler": (_INT, [_P]),
    "LiteRtResetProfiler": (_INT, [_P]),
    "LiteRtGetNumProfilerEvents": (_INT, [_P, _PTR(_INT)]),
    "LiteRtGetProfilerEvents": (_INT, [_P, _INT, _P]),
}


@dataclass(frozen=True)
class ProfilerEvent:
    """One decoded ``ProfiledEventData``."""

    tag: str
    event_type: int
    start_us: int
    elapsed_us: int
    metadata1: int
    metadata2: int
    source: int


@dataclass(frozen=True)
class ProfiledRun:
    """The events of one profiled inference and its wall time around the C call."""

    events: list[ProfilerEvent]
    wall_us: float


def _event_layout(memory_fields: int) -> type[ctypes.Structure]:
    """``ProfiledEventData`` whose ``MemoryUsage`` has ``memory_fields`` 8-byte fields."""
    memory = type(
        f"_MemoryUsage{memory_fields}",
        (ctypes.Structure,),
        {"_fields_": [(f"f{i}", ctypes.c_int64) for i in range(memory_fields)]},
    )
    fields = [
        ("tag", ctypes.c_void_p),  # followed only after the layout is validated
        ("event_type", ctypes.c_int),
        ("start_timestamp_us", ctypes.c_uint64),
        ("elapsed_time_us", ctypes.c_uint64),
        ("begin_mem_usage", memory),
        ("end_mem_usage", memory),
        ("event_metadata1", ctypes.c_int64),
        ("event_metadata2", ctypes.c_int64),
        ("event_source", ctypes.c_int),
    ]
    return type(f"_ProfiledEventData{memory_fields}", (ctypes.Structure,), {"_fields_": fields})


# Most likely first: 3 = the wheel here (104 bytes), 4 = newer LiteRT, 2 = the C header.
_EVENT_LAYOUTS = tuple(_event_layout(n) for n in (3, 4, 2))


def _is_plausible(event: ctypes.Structure) -> bool:
    return (
        event.tag is not None
        and event.event_type in _KNOWN_EVENT_TYPES
        and event.event_source in _KNOWN_EVENT_SOURCES
    )


def decode_events(raw: ctypes.Array[ctypes.c_ubyte], count: int) -> list[ProfilerEvent]:
    """Decode ``count`` events from the bytes ``LiteRtGetProfilerEvents`` wrote.

    Raises:
        AgentError: No known layout decodes every event plausibly.
    """
    for layout in _EVENT_LAYOUTS:
        if ctypes.sizeof(layout) * count > len(raw):
            continue
        events = (layout * count).from_buffer(raw)
        if all(_is_plausible(event) for event in events):
            return [_to_event(event) for event in events]
    raise AgentError(
        f"LiteRT profiler events match no known ProfiledEventData layout ({count} events); "
        "this libLiteRt.so is newer than the binding"
    )


def _to_event(event: ctypes.Structure) -> ProfilerEvent:
    tag = ctypes.string_at(event.tag).decode("utf-8", errors="replace")
    return ProfilerEvent(
        tag=tag,
        event_type=event.event_type,
        start_us=event.start_timestamp_us,
        elapsed_us=event.elapsed_time_us,
        metadata1=event.event_metadata1,
        metadata2=event.event_metadata2,
        source=event.event_source,
    )


def library_path() -> Path:
    """Where ``libLiteRt.so`` is: inside the installed ``ai_edge_litert`` package.

    Raises:
        RuntimeUnavailableError: ``ai_edge_litert`` or its C library is missing.
    """
    try:
        import ai_edge_litert
    except ImportError as exc:
        raise RuntimeUnavailableError("ai-edge-litert is not installed") from exc
    path = Path(ai_edge_litert.__file__).parent / LIBRARY_NAME
    if not path.is_file():
        raise RuntimeUnavailableError(f"{LIBRARY_NAME} not found in {path.parent}")
    return path


@functools.cache
def _library() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(library_path()))
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


@functools.cache
def _libc() -> ctypes.CDLL:
    # The opaque-options payload is handed to LiteRT with libc's free() as its
    # destructor, so it must come from libc's strdup().
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
    libc.strdup.restype, libc.strdup.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    return libc


def _check(status: int, call: str) -> None:
    if status != _OK:
        name = _STATUS_NAMES.get(status, "unknown")
        raise AgentError(f"{call} failed: LiteRT status {status} ({name})")


def _out(call: Callable[..., int], name: str, *args: Any, kind: Any = _P) -> Any:
    """Call a ``LiteRtStatus f(..., T* out)`` function; return ``out``."""
    value = kind()
    _check(call(*args, ctypes.byref(value)), name)
    return value.value


class ProfiledCompiledModel:
    """A LiteRT compiled model with profiling on, its tensor buffers and profiler.

    Everything created here is destroyed by ``close()`` in reverse order, also
    when construction fails half way.

    Example:
        with ProfiledCompiledModel(path, num_threads=2, use_xnnpack=False) as model:
            model.write_inputs({"image": x})
            run = model.run()
    """

    def __init__(self, model_path: Path, *, num_threads: int, use_xnnpack: bool) -> None:
        self._lib = _library()
        self._stack = ExitStack()
        try:
            self._open(model_path, num_threads, use_xnnpack)
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> ProfiledCompiledModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Destroy buffers, compiled model, options, model and environment."""
        self._stack.close()

    def _open(self, model_path: Path, num_threads: int, use_xnnpack: bool) -> None:
        lib, stack = self._lib, self._stack
        self._env = _out(lib.LiteRtCreateEnvironment, "LiteRtCreateEnvironment", 0, None)
        stack.callback(lib.LiteRtDestroyEnvironment, self._env)
        self._model = self._model_from_file(model_path)
        stack.callback(lib.LiteRtDestroyModel, self._model)
        options = self._options(num_threads, use_xnnpack)
        stack.callback(lib.LiteRtDestroyOptions, options)
        self._compiled = _out(
            lib.LiteRtCreateCompiledModel,
            "LiteRtCreateCompiledModel",
            self._env,
            self._model,
            options,
        )
        stack.callback(lib.LiteRtDestroyCompiledModel, self._compiled)
        self._signature = _out(
            lib.LiteRtGetModelSignature, "LiteRtGetModelSignature", self._model, 0
        )
        self._inputs, self._input_names = self._buffers(is_input=True)
        self._outputs, _ = self._buffers(is_input=False)
        self._profiler = _out(
            lib.LiteRtCompiledModelGetProfiler, "LiteRtCompiledModelGetProfiler", self._compiled
        )
        if not self._profiler:
            raise AgentError("LiteRT returned no profiler although enable_profiling = true was set")

    def _model_from_file(self, model_path: Path) -> int:
        try:
            return _out(
                self._lib.LiteRtCreateModelFromFile,
                "LiteRtCreateModelFromFile",
                self._env,
                str(model_path).encode(),
            )
        except AgentError as exc:
            raise InvalidModelError(f"LiteRT cannot load model {model_path}: {exc}") from exc

    def _options(self, num_threads: int, use_xnnpack: bool) -> int:
        lib = self._lib
        options = _out(lib.LiteRtCreateOptions, "LiteRtCreateOptions")
        try:
            _check(
                lib.LiteRtSetOptionsHardwareAccelerators(options, _HW_ACCELERATOR_CPU),
                "LiteRtSetOptionsHardwareAccelerators",
            )
            # TOML: "enable_profiling = 1" is rejected (warning, NULL profiler).
            self._add_opaque(options, "runtime_options_string", "enable_profiling = true\n")
            cpu = f"num_threads = {num_threads}\n"
            if not use_xnnpack:
                cpu += 'kernel_mode = "builtin"\n'
            self._add_opaque(options, "xnnpack", cpu)
        except BaseException:
            lib.LiteRtDestroyOptions(options)
            raise
        return options

    def _add_opaque(self, options: int, identifier: str, toml: str) -> None:
        lib, libc = self._lib, _libc()
        payload = libc.strdup(toml.encode())
        if not payload:
            raise MemoryError("strdup failed for a LiteRT options payload")
        free = ctypes.cast(libc.free, _DESTRUCTOR)
        opaque = _P()
        status = lib.LiteRtCreateOpaqueOptions(
            identifier.encode(), payload, free, ctypes.byref(opaque)
        )
        if status != _OK:
            libc.free(ctypes.c_void_p(payload))
            _check(status, "LiteRtCreateOpaqueOptions")
        status = lib.LiteRtAddOpaqueOptions(options, opaque)
        if status != _OK:
            lib.LiteRtDestroyOpaqueOptions(opaque)  # frees payload through the destructor
            _check(status, "LiteRtAddOpaqueOptions")
        # Added: the options object now owns it (seen here: the destructor runs in
        # LiteRtDestroyOptions), so it must not be destroyed separately.

    def _buffers(self, *, is_input: bool) -> tuple[ctypes.Array[ctypes.c_void_p], list[set[str]]]:
        lib, kind = self._lib, "Input" if is_input else "Output"
        count_call = f"LiteRtGetNumSignature{kind}s"
        count = _out(getattr(lib, count_call), count_call, self._signature, kind=_SIZE)
        handles = (ctypes.c_void_p * count)()
        names: list[set[str]] = []
        for index in range(count):
            tensor_call = f"LiteRtGetSignature{kind}TensorByIndex"
            tensor = _out(getattr(lib, tensor_call), tensor_call, self._signature, index)
            names.append(self._tensor_names(tensor, index, kind))
            handles[index] = self._buffer(tensor, index, kind)
        return handles, names

    def _tensor_names(self, tensor: int, index: int, kind: str) -> set[str]:
        # Feeds may be keyed by the signature name or by the tensor's own name
        # (what the Python Interpreter reports); accept both.
        lib, call = self._lib, f"LiteRtGetSignature{kind}Name"
        signature_name = _out(
            getattr(lib, call), call, self._signature, index, kind=ctypes.c_char_p
        )
        tensor_name = _out(
            lib.LiteRtGetTensorName, "LiteRtGetTensorName", tensor, kind=ctypes.c_char_p
        )
        return {name.decode() for name in (signature_name, tensor_name) if name}

    def _buffer(self, tensor: int, index: int, kind: str) -> int:
        lib = self._lib
        tensor_type = (ctypes.c_uint64 * _TENSOR_TYPE_WORDS)()  # opaque: see module docstring
        _check(lib.LiteRtGetRankedTensorType(tensor, tensor_type), "LiteRtGetRankedTensorType")
        requirements = _out(
            getattr(lib, f"LiteRtGetCompiledModel{kind}BufferRequirements"),
            f"LiteRtGetCompiledModel{kind}BufferRequirements",
            self._compiled,
            0,
            index,
        )  # owned by the compiled model: not destroyed here
        buffer = _out(
            lib.LiteRtCreateManagedTensorBufferFromRequirements,
            "LiteRtCreateManagedTensorBufferFromRequirements",
            self._env,
            tensor_type,
            requirements,
        )
        self._stack.callback(lib.LiteRtDestroyTensorBuffer, buffer)
        return buffer

    def write_inputs(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Copy ``feeds`` (keyed by signature or tensor name) into the input buffers.

        Raises:
            InvalidOptionError: An input has no feed, or a feed has the wrong size.
        """
        for index, names in enumerate(self._input_names):
            key = next((name for name in names if name in feeds), None)
            if key is None:
                raise InvalidOptionError(f"no input value for model input {sorted(names)}")
            buffer = self._inputs[index] or 0  # ctypes reads a void* slot as int | None
            self._write(buffer, key, np.ascontiguousarray(feeds[key]))

    def _write(self, buffer: int, name: str, value: np.ndarray) -> None:
        lib = self._lib
        size = _out(
            lib.LiteRtGetTensorBufferPackedSize,
            "LiteRtGetTensorBufferPackedSize",
            buffer,
            kind=_SIZE,
        )
        if value.nbytes != size:
            raise InvalidOptionError(
                f"input '{name}' has {value.nbytes} bytes, the model expects {size}"
            )
        address = _P()
        _check(
            lib.LiteRtLockTensorBuffer(buffer, ctypes.byref(address), _LOCK_WRITE),
            "LiteRtLockTensorBuffer",
        )
        try:
            if not address.value:
                raise AgentError(f"LiteRtLockTensorBuffer gave no host address for input '{name}'")
            ctypes.memmove(address.value, value.ctypes.data, size)
        finally:
            _check(lib.LiteRtUnlockTensorBuffer(buffer), "LiteRtUnlockTensorBuffer")

    def run(self, *, profiled: bool = True) -> ProfiledRun:
        """Run one inference; with ``profiled``, return its profiler events."""
        lib, profiler = self._lib, self._profiler
        if profiled:
            _check(lib.LiteRtResetProfiler(profiler), "LiteRtResetProfiler")
            _check(lib.LiteRtStartProfiler(profiler), "LiteRtStartProfiler")
        start = time.perf_counter_ns()
        status = lib.LiteRtRunCompiledModel(
            self._compiled, 0, len(self._inputs), self._inputs, len(self._outputs), self._outputs
        )
        wall_us = (time.perf_counter_ns() - start) / 1000.0
        if profiled:
            _check(lib.LiteRtStopProfiler(profiler), "LiteRtStopProfiler")
        _check(status, "LiteRtRunCompiledModel")
        return ProfiledRun(self._events() if profiled else [], wall_us)

    def _events(self) -> list[ProfilerEvent]:
        lib = self._lib
        count = _out(
            lib.LiteRtGetNumProfilerEvents, "LiteRtGetNumProfilerEvents", self._profiler, kind=_INT
        )
        if count <= 0:
            return []
        # The call refuses a count smaller than what it holds, and writes with the
        # C++ struct size: allocate for the largest layout, decode afterwards.
        raw = (ctypes.c_ubyte * (count * _MAX_EVENT_BYTES))()
        _check(lib.LiteRtGetProfilerEvents(self._profiler, count, raw), "LiteRtGetProfilerEvents")
        return decode_events(raw, count)
