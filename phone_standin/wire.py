"""ADB wire messages: the 24-byte header, command constants, pack and read.

Part of the phone stand-in (test infrastructure, see the package docstring).
Layout per AOSP ``packages/modules/adb/protocol.txt``: six little-endian
uint32 fields ``command, arg0, arg1, data_length, data_crc32, magic`` with
``magic == command ^ 0xFFFFFFFF``, followed by ``data_length`` payload bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

HEADER = struct.Struct("<6I")


def _command(name: bytes) -> int:
    return int.from_bytes(name, "little")


A_CNXN = _command(b"CNXN")
A_OPEN = _command(b"OPEN")
A_OKAY = _command(b"OKAY")
A_CLSE = _command(b"CLSE")
A_WRTE = _command(b"WRTE")
A_AUTH = _command(b"AUTH")
A_SYNC = _command(b"SYNC")
A_STLS = _command(b"STLS")

# 0x01000001 is the first version that lets both ends skip the payload checksum;
# the stand-in answers with it so it can always send checksum 0.
A_VERSION = 0x01000001
# 1 MiB payloads: the prototype measured 4 KiB (the legacy value) as ~10x slower.
MAX_PAYLOAD = 1024 * 1024
# Refuse absurd lengths from a corrupt stream instead of trying to allocate them.
MAX_ACCEPTED_PAYLOAD = 16 * MAX_PAYLOAD


class WireError(Exception):
    """The byte stream from the adb server is not a valid ADB message."""


@dataclass(frozen=True)
class Message:
    """One ADB message: a command, its two arguments and its payload."""

    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        """The command as its four ASCII letters (for logs and errors)."""
        return command_name(self.command)


def command_name(command: int) -> str:
    """Return ``CNXN``-style text for a command number, or its hex if unknown."""
    raw = command.to_bytes(4, "little")
    return raw.decode("ascii") if raw.isalpha() else f"0x{command:08x}"


def pack_header(command: int, arg0: int, arg1: int, data_length: int) -> bytes:
    """Pack a header with checksum 0 (valid for protocol versions >= A_VERSION)."""
    return HEADER.pack(command, arg0, arg1, data_length, 0, command ^ 0xFFFFFFFF)


def pack(message: Message) -> bytes:
    """Serialise a whole message (header + payload)."""
    header = pack_header(message.command, message.arg0, message.arg1, len(message.data))
    return header + message.data


def read_message(reader: BinaryIO) -> Message | None:
    """Read one message from a buffered reader.

    Returns:
        The message, or None on a clean end of stream before a header.

    Raises:
        WireError: truncated header/payload, bad magic, or absurd length.
    """
    header = reader.read(HEADER.size)
    if not header:
        return None
    if len(header) != HEADER.size:
        raise WireError(f"truncated header ({len(header)} of {HEADER.size} bytes)")
    command, arg0, arg1, length, _checksum, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise WireError(f"bad magic 0x{magic:08x} for command {command_name(command)}")
    if length > MAX_ACCEPTED_PAYLOAD:
        raise WireError(f"payload length {length} exceeds {MAX_ACCEPTED_PAYLOAD}")
    data = reader.read(length) if length else b""
    if len(data) != length:
        raise WireError(f"truncated payload ({len(data)} of {length} bytes)")
    return Message(command, arg0, arg1, data)
