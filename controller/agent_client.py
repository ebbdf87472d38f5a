"""The controller's side of the agent's gRPC API.

gRPC errors become ``UserError`` / ``InternalError`` here and nowhere else, with
the device named in the message, so callers above never see grpc types.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from contract.handshake import MAX_MESSAGE_BYTES, TOKEN_METADATA_KEY
from controller.errors import DeviceError, InternalError, UserError
from controller.liveness import StreamLimits
from protos import agent_pb2 as pb
from protos import agent_pb2_grpc as pb_grpc

CHUNK_BYTES = 1024 * 1024
PING_TIMEOUT_SEC = 5.0
# GetDeviceInfo imports and probes every runtime in the agent: seconds on a phone,
# more under qemu-user in CI. Bounded all the same: a frozen agent must not hang it.
DEVICE_INFO_TIMEOUT_SEC = 120.0

_USER_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
}

ProgressCallback = Callable[[int, int], None]  # (bytes_done, bytes_total)


@dataclass(frozen=True)
class Artifact:
    """A file to make present on a device: its bytes, identity, and the name the
    agent stores it under (the suffix picks the runtime)."""

    path: Path
    sha256: str
    filename: str

    @classmethod
    def from_file(cls, path: Path, filename: str | None = None) -> Artifact:
        return cls(path, sha256_of(path), filename or path.name)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def grpc_errors(device: str) -> Iterator[None]:
    """Map gRPC failures to devicelab errors that name the device."""
    try:
        yield
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        if code in _USER_CODES:
            raise UserError(f"[{device}] {details}") from exc
        if code == grpc.StatusCode.UNAVAILABLE:
            raise DeviceError(f"[{device}] agent unreachable: {details}") from exc
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise DeviceError(
                f"[{device}] no answer from the agent in time ({details}): "
                "a frozen agent or device?"
            ) from exc
        raise InternalError(f"[{device}] agent call failed ({code}): {details}") from exc


class AgentClient:
    """One connection to one agent.

    Example:
        client = AgentClient("127.0.0.1:50051", device="local")
        sha = client.ensure_artifact(Path("model.onnx"))
        for event in client.profile(pb.ProfileRequest(job_id="j1", artifact_sha256=sha)):
            ...
    """

    def __init__(self, address: str, device: str, token: str = "") -> None:
        self.address = address
        self.device = device
        self._metadata = ((TOKEN_METADATA_KEY, token),) if token else ()
        self._channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._stub = pb_grpc.AgentStub(self._channel)
        self._device_info: dict[tuple[str, ...], pb.DeviceInfo] = {}

    def close(self) -> None:
        self._channel.close()

    def ping(self, timeout_sec: float = PING_TIMEOUT_SEC) -> pb.PingReply:
        with grpc_errors(self.device):
            return self._stub.Ping(pb.PingRequest(), timeout=timeout_sec, metadata=self._metadata)

    def device_info(
        self, library_dirs: Sequence[str] = (), timeout_sec: float = DEVICE_INFO_TIMEOUT_SEC
    ) -> pb.DeviceInfo:
        """What the agent runs on and can run, its runtimes looking in ``library_dirs``
        first (a device profile's QNN folders); asked once per client and folders, since
        it does not change while that agent runs (a restarted agent gets a new client)."""
        key = tuple(library_dirs)
        if key not in self._device_info:
            with grpc_errors(self.device):
                self._device_info[key] = self._stub.GetDeviceInfo(
                    pb.DeviceInfoRequest(library_dirs=key),
                    timeout=timeout_sec,
                    metadata=self._metadata,
                )
        return self._device_info[key]

    def has_artifact(self, sha256: str, timeout_sec: float | None = None) -> bool:
        """Whether the agent holds ``sha256``; a stat on the agent, so it gets no more
        than the agent's silence limit (``DEVICELAB_AGENT_SILENCE_S``) by default."""
        timeout = timeout_sec if timeout_sec is not None else StreamLimits.from_env().silence_s
        with grpc_errors(self.device):
            reply = self._stub.HasArtifact(
                pb.ArtifactRef(sha256=sha256), timeout=timeout, metadata=self._metadata
            )
        return reply.present

    def ensure_artifact(self, artifact: Artifact, progress: ProgressCallback | None = None) -> str:
        """Upload ``artifact`` over gRPC unless the agent already has it; return the sha256."""
        if self.has_artifact(artifact.sha256):
            return artifact.sha256
        with grpc_errors(self.device):
            chunks = _chunks(artifact, progress)
            future = self._stub.UploadArtifact.future(chunks, metadata=self._metadata)
            reply = self._watched(future, "the upload", StreamLimits.from_env())
        if reply.sha256 != artifact.sha256:
            raise InternalError(
                f"[{self.device}] stored {reply.sha256}, expected {artifact.sha256}"
            )
        return artifact.sha256

    def adopt_artifact(self, incoming_name: str, sha256: str, filename: str) -> None:
        """Have the agent verify and store a file already pushed to its incoming/ folder."""
        request = pb.AdoptRequest(sha256=sha256, filename=filename, incoming_name=incoming_name)
        with grpc_errors(self.device):
            future = self._stub.AdoptArtifact.future(request, metadata=self._metadata)
            self._watched(future, "the artifact's check", StreamLimits.from_env())

    def profile(self, request: pb.ProfileRequest) -> ProfileStream:
        """Start a Profile call; iterate the result for events (heartbeats included)."""
        with grpc_errors(self.device):
            call = self._stub.Profile(request, metadata=self._metadata)
        return ProfileStream(call, self.device)

    def infer(self, request: pb.InferRequest, limits: StreamLimits | None = None) -> pb.InferReply:
        """One Infer call, watched: the agent must answer a ping within the silence limit
        while it runs, and the call ends within ``DEVICELAB_LOAD_TIMEOUT_S`` plus grace
        (it loads the model, then runs every sample)."""
        limits = limits or StreamLimits.from_env()
        with grpc_errors(self.device):
            future = self._stub.Infer.future(
                request,
                timeout=limits.load_timeout_s + limits.stage_grace_s,
                metadata=self._metadata,
            )
            return self._watched(future, "inference", limits)

    def _watched(self, future: grpc.Future, during: str, limits: StreamLimits) -> Any:
        """``future``'s reply, or DeviceError once the agent stops answering pings."""
        reason = self._watch_unary(future, during, limits)
        if reason is not None:
            future.cancel()  # the agent drops the call (and its job) once it runs again
            raise DeviceError(f"[{self.device}] {reason}")
        return future.result()

    def _watch_unary(self, future: grpc.Future, during: str, limits: StreamLimits) -> str | None:
        """Ping the agent while ``future`` runs; why to give up on it, or None once done."""
        while True:
            try:
                future.result(timeout=limits.heartbeat_s)
                return None
            except grpc.FutureTimeoutError:
                pass
            started = time.monotonic()
            try:
                self.ping(timeout_sec=limits.silence_s)
            except InternalError:
                if future.done():
                    return None
                silent_s = time.monotonic() - started
                return f"no sign of life from the agent for {silent_s:.1f} s during {during}"

    def cancel(self, job_id: str, timeout_sec: float = PING_TIMEOUT_SEC) -> bool:
        """Ask the agent to stop a job; bounded, because the agent may be frozen."""
        with grpc_errors(self.device):
            request = pb.CancelRequest(job_id=job_id)
            return self._stub.Cancel(request, timeout=timeout_sec, metadata=self._metadata).found


class ProfileStream:
    """A running Profile call: iterate it for events; ``cancel()`` from any thread ends
    it (the iteration then raises InternalError), and the agent stops the job."""

    def __init__(self, call: grpc.Call, device: str) -> None:
        self._call = call
        self.device = device

    def __iter__(self) -> Iterator[pb.ProfileEvent]:
        with grpc_errors(self.device):
            yield from self._call  # type: ignore[misc]

    def cancel(self) -> None:
        self._call.cancel()


def _chunks(artifact: Artifact, progress: ProgressCallback | None) -> Iterator[pb.ArtifactChunk]:
    """The upload stream: the first chunk carries the identity (even for an empty file)."""
    total = artifact.path.stat().st_size
    done = 0
    with artifact.path.open("rb") as handle:
        data = handle.read(CHUNK_BYTES)
        chunk = pb.ArtifactChunk(
            sha256=artifact.sha256, filename=artifact.filename, total_bytes=total, data=data
        )
        while True:
            yield chunk
            done += len(data)
            if progress:
                progress(done, total)
            data = handle.read(CHUNK_BYTES)
            if not data:
                return
            chunk = pb.ArtifactChunk(data=data)
