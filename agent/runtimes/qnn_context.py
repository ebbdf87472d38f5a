"""Run a bare QNN context binary (``.bin``) through ONNX Runtime's QNN EP.

ORT loads context binaries only through an ONNX model holding an ``EPContext`` node
(domain ``com.microsoft``) whose ``ep_cache_context`` names the ``.bin`` relative to
the model file, and whose node name is the QNN graph name. That wrapper needs each
graph's input/output names, shapes and types, which this module reads from the
binary's metadata with the QNN System API (``libQnnSystem.so``, ``QnnSystemContext_
getMetadata``) through ctypes, then writes the wrapper as hand-built protobuf bytes:
the agent must not need the ``onnx`` package.

Struct layouts follow ``System/QnnSystemContext.h`` and ``QnnTypes.h`` of QNN 2.x
(QNN keeps them ABI-stable within 2.x); results are sanity-checked before use.
"""

from __future__ import annotations

import ctypes as C
import mmap
import os
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from agent.errors import AgentError, InvalidModelError, InvalidOptionError, MissingLibraryError
from agent.runtimes.libraries import Policy, searched
from agent.runtimes.qnn_ep import (
    BACKENDS,
    QNN_EP_NAME,
    QNN_SYSTEM_LIBRARY,
    QnnBackend,
    find_library,
)

# --------------------------------------------------------------------------------------
# QNN System API structs (only the fields read here, plus what fixes the layout)
# --------------------------------------------------------------------------------------


class _Version(C.Structure):
    _fields_ = [("major", C.c_uint32), ("minor", C.c_uint32), ("patch", C.c_uint32)]


class _QuantizeParams(C.Structure):
    # The encoding union holds pointers (8-byte aligned) and is 32 bytes in QNN 2.x.
    _fields_ = [("definition", C.c_int32), ("encoding", C.c_int32), ("union", C.c_uint64 * 4)]


class _TensorV1(C.Structure):
    # Qnn_TensorV2_t starts with the same fields, so this view reads both versions.
    _fields_ = [
        ("id", C.c_uint32),
        ("name", C.c_char_p),
        ("type", C.c_int32),
        ("dataFormat", C.c_uint32),
        ("dataType", C.c_int32),
        ("quantizeParams", _QuantizeParams),
        ("rank", C.c_uint32),
        ("dimensions", C.POINTER(C.c_uint32)),
        ("memType", C.c_int32),
        ("clientBuf", C.c_void_p * 2),
    ]


class _TensorV2Tail(C.Structure):
    _fields_ = [
        ("head", _TensorV1),
        ("isDynamicDimensions", C.c_void_p),
        ("sparseParams", C.c_uint32 * 3),
        ("isProduced", C.c_uint8),
    ]


class _Tensor(C.Structure):
    # Array stride must match Qnn_Tensor_t (144 bytes): size the union by its V2 member.
    _fields_ = [("version", C.c_uint32), ("v", _TensorV2Tail)]


class _GraphInfoV1(C.Structure):
    _fields_ = [
        ("graphName", C.c_char_p),
        ("numGraphInputs", C.c_uint32),
        ("graphInputs", C.POINTER(_Tensor)),
        ("numGraphOutputs", C.c_uint32),
        ("graphOutputs", C.POINTER(_Tensor)),
    ]


class _GraphInfoV3(C.Structure):
    _fields_ = [
        ("head", _GraphInfoV1),
        ("numUpdateableTensors", C.c_uint32),
        ("updateableTensors", C.c_void_p),
        ("graphBlobInfoSize", C.c_uint32),
        ("graphBlobInfo", C.c_void_p),
        ("startOpIndex", C.c_uint32),
        ("endOpIndex", C.c_uint32),
    ]


class _GraphInfo(C.Structure):
    # V1, V2 and V3 share their first five fields; size the union by V3 for the stride.
    _fields_ = [("version", C.c_uint32), ("v", _GraphInfoV3)]


_BINARY_HEAD: list[Any] = [("backendId", C.c_uint32), ("buildId", C.c_char_p)]
_BINARY_GRAPHS: list[Any] = [
    ("contextBlobSize", C.c_uint64),
    ("numContextTensors", C.c_uint32),
    ("contextTensors", C.c_void_p),
    ("numGraphs", C.c_uint32),
    ("graphs", C.POINTER(_GraphInfo)),
]


class _BinaryInfoV1(C.Structure):  # V2 only appends platformInfo
    _fields_ = [
        *_BINARY_HEAD,
        ("coreApiVersion", _Version),
        ("backendApiVersion", _Version),
        ("socVersion", C.c_char_p),
        ("hwInfoBlobVersion", _Version),
        ("contextBlobVersion", _Version),
        ("hwInfoBlobSize", C.c_uint32),
        ("hwInfoBlob", C.c_void_p),
        *_BINARY_GRAPHS,
    ]


class _BinaryInfoV3(C.Structure):  # V3 drops the hardware-info blob fields
    _fields_ = [
        *_BINARY_HEAD,
        ("coreApiVersion", _Version),
        ("backendApiVersion", _Version),
        ("socVersion", C.c_char_p),
        ("contextBlobVersion", _Version),
        *_BINARY_GRAPHS,
    ]


class _BinaryInfoUnion(C.Union):
    _fields_ = [("v1", _BinaryInfoV1), ("v3", _BinaryInfoV3)]


class _BinaryInfo(C.Structure):
    _fields_ = [("version", C.c_uint32), ("info", _BinaryInfoUnion)]


class _SystemInterface(C.Structure):
    # QnnSystemInterface_t; the function table's first four entries are stable.
    _fields_ = [
        ("backendId", C.c_uint32),
        ("providerName", C.c_char_p),
        ("systemApiVersion", _Version),
        ("systemContextCreate", C.c_void_p),
        ("systemContextGetBinaryInfo", C.c_void_p),
        ("systemContextGetMetaData", C.c_void_p),
        ("systemContextFree", C.c_void_p),
    ]


_CreateFn = C.CFUNCTYPE(C.c_uint64, C.POINTER(C.c_void_p))
_GetMetadataFn = C.CFUNCTYPE(
    C.c_uint64, C.c_void_p, C.c_void_p, C.c_uint64, C.POINTER(C.POINTER(_BinaryInfo))
)
_FreeFn = C.CFUNCTYPE(C.c_uint64, C.c_void_p)

# Qnn_DataType_t -> (ONNX TensorProto.DataType, numpy dtype name). Fixed-point types are
# the quantized storage type: a bare .bin takes and returns quantized tensors.
_DATA_TYPES: dict[int, tuple[int, str]] = {
    0x0008: (3, "int8"),
    0x0016: (5, "int16"),
    0x0032: (6, "int32"),
    0x0064: (7, "int64"),
    0x0108: (2, "uint8"),
    0x0116: (4, "uint16"),
    0x0132: (12, "uint32"),
    0x0164: (13, "uint64"),
    0x0216: (10, "float16"),
    0x0232: (1, "float32"),
    0x0264: (11, "float64"),
    0x0308: (3, "int8"),
    0x0316: (5, "int16"),
    0x0332: (6, "int32"),
    0x0408: (2, "uint8"),
    0x0416: (4, "uint16"),
    0x0432: (12, "uint32"),
    0x0508: (9, "bool"),
}


@dataclass(frozen=True)
class QnnTensorInfo:
    """A graph input or output as the context binary declares it."""

    name: str
    shape: tuple[int, ...]
    onnx_type: int
    dtype: str
    # (scale, zero_point) of a per-tensor quantized tensor; real = (q - zero_point) * scale
    quantization: tuple[float, int] | None = None


@dataclass(frozen=True)
class QnnGraphInfo:
    name: str
    inputs: tuple[QnnTensorInfo, ...]
    outputs: tuple[QnnTensorInfo, ...]


@dataclass(frozen=True)
class ContextBinaryInfo:
    backend_id: int  # QNN_BACKEND_ID_*: 6 = HTP, 4 = GPU
    build_id: str
    graphs: tuple[QnnGraphInfo, ...]


@cache
def _system_interface(library: str) -> _SystemInterface:
    """Load ``libQnnSystem.so`` once and return its first interface provider.

    ctypes never unloads a library, so the returned table stays valid for the process.
    """
    lib = C.CDLL(library)
    providers = C.POINTER(C.POINTER(_SystemInterface))()
    count = C.c_uint32()
    lib.QnnSystemInterface_getProviders.restype = C.c_uint64
    status = lib.QnnSystemInterface_getProviders(C.byref(providers), C.byref(count))
    if status != 0 or count.value == 0:
        raise AgentError(f"{library}: QnnSystemInterface_getProviders failed ({status})")
    return providers[0].contents


def read_context_binary(path: Path, library_dirs: Sequence[str] = ()) -> ContextBinaryInfo:
    """Graphs and their I/O declared by a QNN context binary.

    ``libQnnSystem.so`` is looked for as the QNN EP's libraries are
    (``libraries.Policy.QNN_EP``). A load reads a binary's header once and passes
    what it needs along (``wrap_context_binary`` returns the graph it runs).

    Raises:
        MissingLibraryError: ``libQnnSystem.so`` is not available.
        InvalidModelError: the file is not a QNN context binary.
    """
    library = find_library(QNN_SYSTEM_LIBRARY, library_dirs)
    if library is None:
        where = searched(library_dirs, Policy.QNN_EP)
        raise MissingLibraryError(f"{QNN_SYSTEM_LIBRARY} not found (searched: {where})")
    api = _system_interface(str(library))
    handle = C.c_void_p()
    if _CreateFn(api.systemContextCreate)(C.byref(handle)) != 0:
        raise AgentError(f"{library}: QnnSystemContext_create failed")
    try:
        return _read_metadata(api, handle, path)
    finally:
        _FreeFn(api.systemContextFree)(handle)


def _read_metadata(api: _SystemInterface, handle: C.c_void_p, path: Path) -> ContextBinaryInfo:
    size = path.stat().st_size
    if size == 0:
        raise InvalidModelError(f"{path}: empty file, not a QNN context binary")
    with path.open("rb") as handle_file:
        # A private copy-on-write mapping: nothing is copied, and ctypes gets a writable buffer.
        mapped = mmap.mmap(handle_file.fileno(), size, access=mmap.ACCESS_COPY)
    buffer = (C.c_char * size).from_buffer(mapped)
    try:
        info = C.POINTER(_BinaryInfo)()
        get_metadata = _GetMetadataFn(api.systemContextGetMetaData)
        status = get_metadata(handle, C.addressof(buffer), size, C.byref(info))
        if status != 0 or not info:
            raise InvalidModelError(f"{path}: not a QNN context binary (QNN System error {status})")
        return _binary_info(info.contents, path)
    finally:
        del buffer
        mapped.close()


def _binary_info(raw: _BinaryInfo, path: Path) -> ContextBinaryInfo:
    if raw.version == 3:
        body: _BinaryInfoV1 | _BinaryInfoV3 = raw.info.v3
    elif raw.version in (1, 2):
        body = raw.info.v1
    else:
        raise InvalidModelError(f"{path}: unsupported QNN binary info version {raw.version}")
    if body.numGraphs > 4096:
        raise InvalidModelError(f"{path}: implausible graph count {body.numGraphs}")
    graphs = tuple(_graph(body.graphs[i], path) for i in range(body.numGraphs))
    build = (body.buildId or b"").decode(errors="replace")
    return ContextBinaryInfo(int(body.backendId), build, graphs)


def _graph(raw: _GraphInfo, path: Path) -> QnnGraphInfo:
    if raw.version not in (1, 2, 3):
        raise InvalidModelError(f"{path}: unsupported QNN graph info version {raw.version}")
    head = raw.v.head
    name = (head.graphName or b"").decode()
    inputs = tuple(_tensor(head.graphInputs[i], path) for i in range(head.numGraphInputs))
    outputs = tuple(_tensor(head.graphOutputs[i], path) for i in range(head.numGraphOutputs))
    return QnnGraphInfo(name, inputs, outputs)


def _tensor(raw: _Tensor, path: Path) -> QnnTensorInfo:
    if raw.version not in (1, 2):
        raise InvalidModelError(f"{path}: unsupported QNN tensor version {raw.version}")
    head = raw.v.head
    if head.rank > 16 or not head.name:
        raise InvalidModelError(f"{path}: implausible QNN tensor metadata (rank {head.rank})")
    name = head.name.decode()
    if head.dataType not in _DATA_TYPES:
        raise InvalidModelError(f"{path}: tensor {name!r} has QNN data type {head.dataType:#06x}")
    onnx_type, dtype = _DATA_TYPES[head.dataType]
    shape = tuple(int(head.dimensions[i]) for i in range(head.rank))
    return QnnTensorInfo(name, shape, onnx_type, dtype, _scale_offset(head.quantizeParams))


# Qnn_Definition_t / Qnn_QuantizationEncoding_t values (QnnTypes.h)
_QNN_DEFINITION_DEFINED = 1
_QNN_ENCODING_SCALE_OFFSET = 0


def _scale_offset(params: _QuantizeParams) -> tuple[float, int] | None:
    """(scale, zero_point) of per-tensor scale/offset encoding, else None.

    The union's first member is Qnn_ScaleOffset_t {float scale; int32_t offset};
    QNN's offset is the negated zero point: real = (q + offset) * scale.
    """
    if params.definition != _QNN_DEFINITION_DEFINED:
        return None
    if params.encoding != _QNN_ENCODING_SCALE_OFFSET:
        return None
    scale, offset = struct.unpack("<fi", int(params.union[0]).to_bytes(8, "little"))
    return (scale, -offset) if scale > 0 else None


def output_quantization(graph: QnnGraphInfo) -> dict[str, tuple[float, int]]:
    """(scale, zero_point) of each quantized output of the graph a job runs."""
    return {t.name: t.quantization for t in graph.outputs if t.quantization is not None}


def select_graph(info: ContextBinaryInfo, enable_graphs: Sequence[str], path: Path) -> QnnGraphInfo:
    """The one graph to run: the only graph, or the one ``context_enable_graphs`` names.

    Raises:
        InvalidOptionError: ``context_enable_graphs`` names an unknown graph, or more than one.
        InvalidModelError: the binary holds no graph, or several and none was chosen.
    """
    names = [graph.name for graph in info.graphs]
    unknown = [name for name in enable_graphs if name not in names]
    if unknown:
        raise InvalidOptionError(
            f"qnn_options context_enable_graphs: {unknown} not in {path.name} (graphs: {names})"
        )
    chosen = [g for g in info.graphs if not enable_graphs or g.name in enable_graphs]
    if len(chosen) == 1:
        return chosen[0]
    if not chosen:
        raise InvalidModelError(f"{path}: the context binary holds no graph")
    # One inference runs one graph here; several would need chained wrappers.
    raise (InvalidOptionError if enable_graphs else InvalidModelError)(
        f"{path}: {len(chosen)} graphs {[g.name for g in chosen]}; choose one with "
        "--qnn_options context_enable_graphs=<name>"
    )


# --------------------------------------------------------------------------------------
# The EPContext wrapper model, as raw protobuf (onnx.proto field numbers)
# --------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes_field(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _attribute(name: str, value: int | str) -> bytes:
    # AttributeProto: name=1, i=3, s=4, type=20 (INT=2, STRING=3)
    if isinstance(value, int):
        return _bytes_field(1, name) + _int_field(3, value) + _int_field(20, 2)
    return _bytes_field(1, name) + _bytes_field(4, value) + _int_field(20, 3)


def _value_info(tensor: QnnTensorInfo) -> bytes:
    # ValueInfoProto{name=1, type=2{tensor_type=1{elem_type=1, shape=2{dim=1{dim_value=1}}}}}
    shape = b"".join(_bytes_field(1, _int_field(1, d)) for d in tensor.shape)
    tensor_type = _int_field(1, tensor.onnx_type) + _bytes_field(2, shape)
    return _bytes_field(1, tensor.name) + _bytes_field(2, _bytes_field(1, tensor_type))


def _repeated(number: int, items: Iterable[bytes | str]) -> bytes:
    return b"".join(_bytes_field(number, item) for item in items)


def wrapper_model_bytes(graph: QnnGraphInfo, context_file: str) -> bytes:
    """A ModelProto whose single EPContext node runs ``graph`` from ``context_file``."""
    attributes = [
        _attribute("embed_mode", 0),
        _attribute("ep_cache_context", context_file),
        _attribute("main_context", 1),
        _attribute("source", QNN_EP_NAME),
    ]
    node = (  # NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, domain=7
        _repeated(1, (t.name for t in graph.inputs))
        + _repeated(2, (t.name for t in graph.outputs))
        + _bytes_field(3, graph.name)
        + _bytes_field(4, "EPContext")
        + _repeated(5, attributes)
        + _bytes_field(7, "com.microsoft")
    )
    body = (  # GraphProto: node=1, name=2, input=11, output=12
        _bytes_field(1, node)
        + _bytes_field(2, graph.name)
        + _repeated(11, (_value_info(t) for t in graph.inputs))
        + _repeated(12, (_value_info(t) for t in graph.outputs))
    )
    opsets = [
        _bytes_field(1, "") + _int_field(2, 17),
        _bytes_field(1, "com.microsoft") + _int_field(2, 1),
    ]
    # ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8
    return (
        _int_field(1, 8)
        + _bytes_field(2, "devicelab")
        + _bytes_field(7, body)
        + _repeated(8, opsets)
    )


def write_wrapper(bin_path: Path, graph: QnnGraphInfo, workdir: Path) -> Path:
    """Write the wrapper model into ``workdir`` next to a link to ``bin_path``; return it.

    The QNN EP resolves ``ep_cache_context`` relative to the model file and refuses
    absolute paths, so the binary is linked (or copied) beside the wrapper.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", bin_path.stem)
    link = workdir / f"{stem}_wrapped.bin"
    if link.resolve() != bin_path.resolve():
        link.unlink(missing_ok=True)
        _link_or_copy(bin_path.resolve(), link)
    wrapper = workdir / f"{stem}_wrapped_ctx.onnx"
    wrapper.write_bytes(wrapper_model_bytes(graph, link.name))
    return wrapper


def _link_or_copy(source: Path, link: Path) -> None:
    try:
        os.symlink(source, link)
    except OSError:
        # Some device filesystems refuse symlinks; a copy costs disk, not correctness.
        link.write_bytes(source.read_bytes())


def wrap_context_binary(
    path: Path,
    library_dirs: Sequence[str],
    workdir: Path,
    enable_graphs: Sequence[str],
    allowed: tuple[list[QnnBackend], list[QnnBackend]],
) -> tuple[Path, QnnBackend, QnnGraphInfo]:
    """EPContext wrapper for the bare binary ``path``, the one backend that runs it, and
    the graph it runs (its outputs' quantization, read from the same header).

    Args:
        allowed: (backends the job asks for, those of them usable here).

    Raises:
        InvalidModelError: not a context binary, or built for a backend we cannot drive.
        InvalidOptionError: the job excludes the binary's backend, or bad graph selection.
        MissingLibraryError: the binary's backend (or libQnnSystem.so) is absent.
    """
    requested, usable = allowed
    info = read_context_binary(path, library_dirs)
    graph = select_graph(info, enable_graphs, path)
    backend = next((b for b in BACKENDS if b.backend_id == info.backend_id), None)
    if backend is None:
        raise InvalidModelError(f"{path}: built for QNN backend id {info.backend_id}, not HTP/GPU")
    if backend not in requested:
        raise InvalidOptionError(
            f"{path}: a context binary runs only on the QNN {backend.key} backend it was built "
            "for; the job's EPs / compute units exclude it"
        )
    if backend not in usable:
        raise MissingLibraryError(f"{path}: {backend.library} is needed and not usable here")
    return write_wrapper(path, graph, workdir), backend, graph
