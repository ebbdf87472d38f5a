"""The agent's gRPC server: a thin servicer over sessions, artifacts and runtimes.

Errors: inside a ``Profile`` stream they travel as an ``error`` event (the
stream has already sent events, and the controller wants what was measured);
for unary calls they become gRPC status codes. Either way the agent error class
decides whether the controller reports a ``UserError`` or an ``InternalError``.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import psutil

from agent import __version__, events, serde
from agent.artifacts import ArtifactCache, UploadChunk
from agent.errors import AgentError, JobCancelledError
from agent.footprint import LoopCpuMeter
from agent.isolation import Cancellation, Liveness
from agent.job_functions import infer_job, profile_job
from agent.runtimes import all_runtime_info, model_format, runtime_name_for
from agent.session import ProfilePlan
from agent.standby import JobProcesses
from contract import tensors
from contract.formats import ModelFormat
from contract.handshake import MAX_MESSAGE_BYTES, TOKEN_METADATA_KEY
from protos import agent_pb2 as pb
from protos import agent_pb2_grpc as pb_grpc

log = logging.getLogger("devicelab.agent")
_DEFAULT_PLAN = ProfilePlan()  # for fields an older controller leaves unset
# A quiet job (a load, a long iteration) reports this often unless the controller asks
# otherwise: its silence limit (DEVICELAB_AGENT_SILENCE_S, 30 s) holds 15 beats.
_DEFAULT_HEARTBEAT_S = 2.0


def status_for(exc: AgentError) -> grpc.StatusCode:
    """The status a unary call fails with: the error class's own (``agent/errors.py``)."""
    return grpc.StatusCode[exc.grpc_status]


def _device_os() -> str:
    return (
        "android"
        if "ANDROID_ROOT" in os.environ or Path("/system/build.prop").exists()
        else (platform.system().lower())
    )


class AgentServicer(pb_grpc.AgentServicer):
    def __init__(self, workdir: Path, start_ahead: bool = True) -> None:
        self.workdir = workdir
        self.artifacts = ArtifactCache(workdir / "artifacts", workdir / "incoming")
        self.started = time.monotonic()
        # One job at a time: two jobs on one device would measure each other.
        self._job_lock = threading.Lock()
        self._cancel_events: dict[str, Cancellation] = {}
        self.processes = JobProcesses(ahead=start_ahead)
        self.processes.refill(())  # the runtime is not known yet: the job code only

    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingReply:
        uptime = time.monotonic() - self.started
        paths = pb.AgentPaths(workdir=str(self.workdir), incoming_dir=str(self.artifacts.incoming))
        return pb.PingReply(
            agent_version=__version__, pid=os.getpid(), uptime_s=uptime, paths=paths
        )

    def GetDeviceInfo(
        self, request: pb.DeviceInfoRequest, context: grpc.ServicerContext
    ) -> pb.DeviceInfo:
        runtimes = [
            pb.RuntimeInfo(
                name=info.name,
                version=info.version,
                available=info.available,
                accelerators=info.accelerators,
                backends=info.backends,
                detail=info.detail,
            )
            for info in all_runtime_info(tuple(request.library_dirs))
        ]
        uname = platform.uname()
        return pb.DeviceInfo(
            hostname=uname.node,
            os=_device_os(),
            os_release=uname.release,
            machine=uname.machine,
            cpu_count=os.cpu_count() or 1,
            memory_total_bytes=psutil.virtual_memory().total,
            runtimes=runtimes,
            agent_version=__version__,
            python_version=platform.python_version(),
        )

    def HasArtifact(
        self, request: pb.ArtifactRef, context: grpc.ServicerContext
    ) -> pb.ArtifactStatus:
        path = self.artifacts.path_of(request.sha256)
        size = path.stat().st_size if path else 0
        return pb.ArtifactStatus(sha256=request.sha256, present=path is not None, size_bytes=size)

    def UploadArtifact(
        self, request_iterator: Iterator[pb.ArtifactChunk], context: grpc.ServicerContext
    ) -> pb.ArtifactStatus:
        chunks = (UploadChunk(c.sha256, c.filename, c.data) for c in request_iterator)
        try:
            path = self.artifacts.put(chunks)
        except AgentError as exc:
            context.abort(status_for(exc), str(exc))
        sha = path.parent.name
        return pb.ArtifactStatus(sha256=sha, present=True, size_bytes=path.stat().st_size)

    def AdoptArtifact(
        self, request: pb.AdoptRequest, context: grpc.ServicerContext
    ) -> pb.ArtifactStatus:
        try:
            path = self.artifacts.adopt(request.incoming_name, request.sha256, request.filename)
        except AgentError as exc:
            context.abort(status_for(exc), str(exc))
        return pb.ArtifactStatus(
            sha256=request.sha256, present=True, size_bytes=path.stat().st_size
        )

    def Profile(
        self, request: pb.ProfileRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ProfileEvent]:
        cancelled = self._register(request.job_id)
        _cancel_with_call(context, cancelled)
        heartbeat_s = request.heartbeat_s or _DEFAULT_HEARTBEAT_S
        try:
            yield from self._wait_for_job_slot(heartbeat_s, cancelled)
            try:
                yield from self._profile(request, cancelled, heartbeat_s)
            finally:
                self._job_lock.release()
        except Exception as exc:  # every failure reaches the controller as an event
            if not isinstance(exc, AgentError):
                log.exception("job %s failed", request.job_id)
            yield pb.ProfileEvent(error=serde.error_to_proto(exc))
        finally:
            self._cancel_events.pop(request.job_id, None)
            cancelled.close()

    def _wait_for_job_slot(
        self, heartbeat_s: float, cancelled: Cancellation
    ) -> Iterator[pb.ProfileEvent]:
        """Take the job lock; beat while another job holds it (queued is not frozen)."""
        waited_s = 0.0
        while not self._job_lock.acquire(timeout=heartbeat_s):
            if cancelled.is_set():
                raise JobCancelledError("job cancelled")
            waited_s += heartbeat_s
            beat = pb.Heartbeat(since_last_event_s=waited_s, process_state="queued")
            yield pb.ProfileEvent(heartbeat=beat)

    def _profile(
        self, request: pb.ProfileRequest, cancelled: Cancellation, heartbeat_s: float
    ) -> Iterator[pb.ProfileEvent]:
        with tempfile.TemporaryDirectory(dir=self.workdir, prefix="job-") as scratch:
            # An unknown model type or a bad option fails here, before a process.
            model_path, fmt = self._model(request.artifact_sha256, request)
            config = serde.run_config_from_proto(request.options, Path(scratch), fmt.model_type)
            # A QNN model library has no in-process runtime: qnn-net-run runs it.
            runtimes = (fmt.agent_runtime,) if fmt.agent_runtime else ()
            plan = ProfilePlan(
                max_iterations=request.max_iterations or _DEFAULT_PLAN.max_iterations,
                max_time_s=request.max_time_s or _DEFAULT_PLAN.max_time_s,
                warmup_iterations=request.warmup_iterations,
                layer_profile_iterations=request.layer_profile_iterations,
                # The loop's progress is its heartbeat (agent/session.py, ProfilePlan);
                # 0.9: a flush lands before the relay's own beat would.
                flush_interval_s=0.9 * heartbeat_s,
            )
            meter = LoopCpuMeter()
            process = self.processes.take(runtimes)
            try:
                job = process.run(profile_job, (model_path, config, plan), cancelled, heartbeat_s)
                for event in job:
                    meter.saw(event)
                    yield self._event_proto(event, meter)
            finally:
                self.processes.job_ended(process, runtimes)  # its measurements are over

    @staticmethod
    def _event_proto(event: events.ProfileEvent | Liveness, meter: LoopCpuMeter) -> pb.ProfileEvent:
        if isinstance(event, Liveness):
            return pb.ProfileEvent(heartbeat=serde.heartbeat_to_proto(event))
        proto = serde.event_to_proto(event)
        if proto.HasField("done"):
            meter.fill(proto.done.loop_cpu)
        return proto

    def Infer(self, request: pb.InferRequest, context: grpc.ServicerContext) -> pb.InferReply:
        try:
            with self._job_lock:
                return self._infer(request, context)
        except AgentError as exc:
            context.abort(status_for(exc), f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")  # context.abort raises

    def _infer(self, request: pb.InferRequest, context: grpc.ServicerContext) -> pb.InferReply:
        feeds = [{t.name: tensors.tensor_to_array(t) for t in s.tensors} for s in request.samples]
        cancelled = Cancellation()
        _cancel_with_call(context, cancelled)
        with (
            contextlib.closing(cancelled),
            tempfile.TemporaryDirectory(dir=self.workdir, prefix="infer-") as scratch,
        ):
            model_path, fmt = self._model(request.artifact_sha256, request)
            runtimes = (runtime_name_for(model_path, fmt.model_type),)  # in-process only
            config = serde.run_config_from_proto(request.options, Path(scratch), fmt.model_type)
            process = self.processes.take(runtimes)
            try:
                [result] = list(process.run(infer_job, (model_path, config, feeds), cancelled))
            finally:
                self.processes.job_ended(process, runtimes)
        samples = [
            pb.Sample(tensors=[tensors.array_to_tensor(n, a) for n, a in outputs.items()])
            for outputs in result.samples
        ]
        applied = serde.applied_to_proto(result.applied, result.inputs, result.outputs)
        return pb.InferReply(samples=samples, applied=applied)

    def _model(
        self, sha256: str, request: pb.ProfileRequest | pb.InferRequest
    ) -> tuple[Path, ModelFormat]:
        """The stored model and its format: the request's ``model_type``, or (an older
        controller) the suffix of the name it declares, else of the stored name.

        The file is run where it is stored, under whatever name: every runtime takes
        the type with the path, so nothing is staged under a suffixed name.
        """
        model_path = self.artifacts.require(sha256)
        file_name = request.model_filename or model_path.name
        return model_path, model_format(request.model_type, file_name)

    def Cancel(self, request: pb.CancelRequest, context: grpc.ServicerContext) -> pb.CancelReply:
        event = self._cancel_events.get(request.job_id)
        if event is not None:
            event.set()
        return pb.CancelReply(found=event is not None)

    def _register(self, job_id: str) -> Cancellation:
        cancellation = Cancellation()
        self._cancel_events[job_id] = cancellation
        return cancellation


def _cancel_with_call(context: grpc.ServicerContext, cancelled: Cancellation) -> None:
    """End the job when its call ends: a controller that gave up on it (its watchdog, a
    frozen agent resumed) ends the job too, else the agent would run it for no one,
    holding the device. A call that ended before its handler ran (cancelled while the
    agent was frozen) takes no callback: the job is cancelled at once."""
    if not context.add_callback(cancelled.set) or not context.is_active():
        cancelled.set()


class _TokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls without the session token the controller started us with."""

    def __init__(self, token: str) -> None:
        self._token = token

        def deny(requests: object, context: grpc.ServicerContext) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong devicelab token")

        # A streaming-request handler reads no message before it runs: a unary one would
        # make gRPC receive the whole body first (up to MAX_MESSAGE_BYTES), and any app on
        # a phone can reach the agent's loopback port. The denial never reads one.
        self._deny = grpc.stream_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = str(metadata.get(TOKEN_METADATA_KEY, ""))
        if hmac.compare_digest(given.encode(), self._token.encode()):
            return continuation(handler_call_details)
        return self._deny


def build_server(
    workdir: Path, port: int, host: str = "127.0.0.1", token: str = "", start_ahead: bool = True
) -> tuple[grpc.Server, int]:
    """A started gRPC server; returns it with the bound port (``port=0`` picks one).

    ``start_ahead``: start each job's process while the agent is idle (``agent/standby.py``).
    """
    interceptors = [_TokenInterceptor(token)] if token else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    pb_grpc.add_AgentServicer_to_server(AgentServicer(workdir, start_ahead), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind the agent to {host}:{port}")
    server.start()
    return server, bound
