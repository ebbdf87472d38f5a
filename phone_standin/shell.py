"""The ``shell:``, ``shell,v2,...:`` and ``exec:`` services of the phone stand-in (test infra).

Commands run as ``/bin/sh -c CMD`` on the host, cwd = sandbox (the device's
``/``), with device paths rewritten by :class:`DevicePaths`. Shell protocol v2
(``shell_protocol.h``) frames every packet as ``id:u8, length:u32le, data``:
0 stdin, 1 stdout, 2 stderr, 3 exit (one byte), 4 close-stdin, 5 window size.
v1 (``shell:``/``exec:``) sends raw bytes with stdout and stderr merged and no
exit code — which is why the banner advertises ``shell_v2``.

Like adbd, the service ends when the shell has exited *and* its output pipes
reached EOF: a background job that keeps the pipes open keeps the service open;
``nohup cmd > log 2>&1 &`` does not, and survives the stream closing. If the
server closes the stream first, the shell's process group gets SIGHUP (what a
hang-up does on a phone), so only ``nohup``/``setsid`` jobs outlive it. No pty
is allocated, even when one is requested.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from phone_standin.paths import DevicePaths
from phone_standin.processes import ProcessRegistry
from phone_standin.streams import Stream, StreamClosed, StreamReader

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW_SIZE = range(6)
_PACKET_HEADER = struct.Struct("<BI")
_READ_SIZE = 64 * 1024
_POLL_SEC = 0.2
_HANGUP_GRACE_SEC = 2.0


@dataclass(frozen=True)
class ShellRequest:
    """A parsed shell service name."""

    command: str
    v2: bool
    env: dict[str, str] = field(default_factory=dict)


def parse_shell_service(name: str) -> ShellRequest | None:
    """Parse ``shell[,arg...]:CMD`` or ``exec:CMD``; None if it is neither.

    Arguments are ``v2``, ``raw``, ``pty`` and ``KEY=VALUE`` (e.g. ``TERM=xterm``).
    """
    if name.startswith("exec:"):
        return ShellRequest(command=name[len("exec:") :], v2=False)
    head, colon, command = name.partition(":")
    if not colon or head.split(",", 1)[0] != "shell":
        return None
    args = head.split(",")[1:]
    env = dict(arg.split("=", 1) for arg in args if "=" in arg)
    return ShellRequest(command=command, v2="v2" in args, env=env)


def shell_packet(packet_id: int, data: bytes = b"") -> bytes:
    """Frame one shell-protocol v2 packet."""
    return _PACKET_HEADER.pack(packet_id, len(data)) + data


def exit_status(returncode: int) -> int:
    """The byte the exit packet carries; death by signal N reads as 128+N, like sh."""
    return (128 - returncode if returncode < 0 else returncode) & 0xFF


class ShellSession:
    """Runs one shell command and pipes it to/from one stream."""

    def __init__(
        self, stream: Stream, request: ShellRequest, paths: DevicePaths, processes: ProcessRegistry
    ) -> None:
        self._stream = stream
        self._request = request
        self._paths = paths
        self._processes = processes
        self._stop = threading.Event()

    def run(self) -> None:
        """Start the process, pump until it is done, send the exit code, close."""
        self._processes.command_lines.append(self._request.command)
        command = self._paths.rewrite_command(self._request.command)
        try:
            process = self._processes.spawn_shell(command, self._request.env, not self._request.v2)
        except OSError as exc:
            self._finish_failed_spawn(exc)
            return
        threading.Thread(target=self._pump_input, args=(process,), daemon=True).start()
        pumps = [threading.Thread(target=self._pump_output, args=(process.stdout, ID_STDOUT))]
        if process.stderr is not None:
            pumps.append(
                threading.Thread(target=self._pump_output, args=(process.stderr, ID_STDERR))
            )
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        returncode = self._wait(process)
        if self._request.v2 and not self._stream.closed:
            with contextlib.suppress(StreamClosed):
                self._stream.write(shell_packet(ID_EXIT, bytes([exit_status(returncode)])))
        self._stream.close()

    def _finish_failed_spawn(self, exc: OSError) -> None:
        message = f"/bin/sh: {exc}\n".encode()
        with contextlib.suppress(StreamClosed):
            if self._request.v2:
                self._stream.write(
                    shell_packet(ID_STDERR, message) + shell_packet(ID_EXIT, b"\x7f")
                )
            else:
                self._stream.write(message)
        self._stream.close()

    def _emit(self, packet_id: int, data: bytes) -> None:
        self._stream.write(shell_packet(packet_id, data) if self._request.v2 else data)

    def _pump_output(self, pipe: IO[bytes] | None, packet_id: int) -> None:
        if pipe is None:
            return
        fd = pipe.fileno()
        try:
            while not self._stop.is_set():
                # Poll so a hang-up can stop us even if a child holds the pipe open.
                ready, _, _ = select.select([fd], [], [], _POLL_SEC)
                if not ready:
                    continue
                data = os.read(fd, _READ_SIZE)
                if not data:
                    return
                self._emit(packet_id, data)
        except StreamClosed:
            self._stop.set()
        finally:
            pipe.close()

    def _pump_input(self, process: subprocess.Popen[bytes]) -> None:
        stdin = process.stdin
        for packet_id, data in self._input_packets():
            if packet_id == ID_CLOSE_STDIN and stdin is not None:
                _close_quietly(stdin)
                stdin = None
            elif packet_id == ID_STDIN and stdin is not None:
                stdin = _write_quietly(stdin, data)
        if stdin is not None:
            _close_quietly(stdin)
        if self._stream.closed_by_peer:
            self._hang_up(process)

    def _input_packets(self) -> Iterator[tuple[int, bytes]]:
        """Yield (packet id, data) from the client: v2 frames, or raw v1 bytes as stdin."""
        if not self._request.v2:
            while (data := self._stream.recv()) is not None:
                yield ID_STDIN, data
            return
        reader = StreamReader(self._stream)
        while (header := reader.read_exact(_PACKET_HEADER.size)) is not None:
            packet_id, length = _PACKET_HEADER.unpack(header)
            data = reader.read_exact(length) if length else b""
            if data is None:
                return
            yield packet_id, data

    def _hang_up(self, process: subprocess.Popen[bytes]) -> None:
        """The server closed the stream: SIGHUP the shell's group, stop pumping."""
        self._stop.set()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGHUP)

    def _wait(self, process: subprocess.Popen[bytes]) -> int:
        try:
            return process.wait(timeout=None if not self._stop.is_set() else _HANGUP_GRACE_SEC)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def _write_quietly(stdin: IO[bytes], data: bytes) -> IO[bytes] | None:
    """Write to the child's stdin; None once it stopped reading (later input is dropped)."""
    try:
        stdin.write(data)
        stdin.flush()
        return stdin
    except (BrokenPipeError, ValueError, OSError):
        _close_quietly(stdin)
        return None


def _close_quietly(stdin: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        stdin.close()
