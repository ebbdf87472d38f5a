"""The protobuf runtime check the generated ``*_pb2.py`` modules call (not generated).

protoc writes a call to ``runtime_version.ValidateProtobufRuntimeVersion(7, 35, 1)``
into every ``_pb2.py``: the runtime must be 7.x and at least 7.35.1. devicelab is
installed beside clients that pin older protobufs (Qualcomm's ``qai-hub`` pins
protobuf <= 6.31.1), so ``scripts/gen_protos.py`` replaces that call with this check.

Why the code still works there: the generated modules use only
``descriptor_pool.AddSerializedFile``, ``builder.BuildMessageAndEnumDescriptors``,
``builder.BuildTopDescriptorsAndMessages`` and the ``_loaded_options`` /
``_serialized_options`` attributes, all present in the Python runtime since 5.26
(the release that introduced ``runtime_version``), and the gencode carries the
descriptors as serialized bytes, which every runtime parses.
``tests/test_protos.py`` round-trips every message on the runtime installed, and
``tests/test_zoo_export.py`` runs the agent protocol on protobuf 6.31.1.
Protobuf's own policy (https://protobuf.dev/support/cross-version-runtime-guarantee)
does not promise newer gencode on an older runtime; this range is what we test.
"""

from __future__ import annotations

from google.protobuf import __version__ as _runtime

#: Oldest protobuf runtime the generated code is known to work with, and the first
#: major version it is not known to work with.
OLDEST = (5, 26, 1)
FIRST_UNSUPPORTED_MAJOR = 8


def _parse(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def supported(version: str) -> bool:
    """Whether the protobuf runtime ``version`` can run devicelab's generated code."""
    parsed = _parse(version)
    return parsed >= OLDEST and parsed[0] < FIRST_UNSUPPORTED_MAJOR


def check(location: str) -> None:
    """Raise ImportError naming the versions when the installed runtime is unsupported."""
    if not supported(_runtime):
        oldest = ".".join(map(str, OLDEST))
        raise ImportError(
            f"{location}: devicelab's generated code needs protobuf >={oldest},"
            f"<{FIRST_UNSUPPORTED_MAJOR}; protobuf {_runtime} is installed"
        )
