"""The model's type travels with the job: the real agent, over real gRPC.

A controller names the model's type (``model_type``); an older one sends only a file
name and the agent takes the type from its suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from controller.agent_client import AgentClient, Artifact
from controller.errors import UserError
from controller.samples.tflite_models import write_tiny_cnn_tflite
from protos import agent_pb2 as pb
from tests.agent_in_process import agent_client


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentClient]:
    with agent_client(tmp_path_factory.mktemp("agent")) as agent:
        yield agent


@pytest.fixture(scope="module")
def model_without_suffix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TFLite model stored as ``model``: nothing in its name says what it is."""
    model = write_tiny_cnn_tflite(tmp_path_factory.mktemp("models") / "tiny.tflite")
    return model.rename(model.with_name("model"))


def _profile(client: AgentClient, sha256: str, **fields: object) -> list[pb.ProfileEvent]:
    request = pb.ProfileRequest(
        job_id="model-type",
        artifact_sha256=sha256,
        max_iterations=3,
        layer_profile_iterations=0,
        **fields,  # type: ignore[arg-type]
    )
    return [event for event in client.profile(request) if not event.HasField("heartbeat")]


def test_a_model_named_without_a_suffix_runs_as_the_type_the_job_names(
    client: AgentClient, model_without_suffix: Path
) -> None:
    sha = client.ensure_artifact(Artifact.from_file(model_without_suffix))
    events = _profile(client, sha, model_filename="model", model_type="tflite")
    errors = [e.error.message for e in events if e.HasField("error")]
    assert errors == []
    [applied] = [e.applied for e in events if e.HasField("applied")]
    assert applied.runtime in ("litert", "tflite_runtime")
    [summary] = [e.done for e in events if e.HasField("done")]
    assert summary.iterations == 3


def test_inference_takes_the_type_from_the_job_too(
    client: AgentClient, model_without_suffix: Path
) -> None:
    sha = client.ensure_artifact(Artifact.from_file(model_without_suffix))
    image = np.zeros((1, 32, 32, 3), dtype=np.float32)
    tensor = pb.Tensor(name="image", dtype="float32", shape=image.shape, data=image.tobytes())
    request = pb.InferRequest(
        job_id="infer-model-type",
        artifact_sha256=sha,
        model_filename="model",
        model_type="tflite",
        samples=[pb.Sample(tensors=[tensor])],
    )
    reply = client.infer(request)
    assert len(reply.samples) == 1 and reply.samples[0].tensors


def test_an_unknown_model_type_is_a_user_error_that_names_it(
    client: AgentClient, model_without_suffix: Path
) -> None:
    sha = client.ensure_artifact(Artifact.from_file(model_without_suffix))
    [event] = _profile(client, sha, model_filename="model.tflite", model_type="pytorch")
    assert event.error.kind == pb.ErrorInfo.USER
    assert event.error.error_type == "InvalidModelError"
    assert "model_type 'pytorch'" in event.error.message
    assert "tflite" in event.error.message  # the types it does know
    request = pb.InferRequest(job_id="i", artifact_sha256=sha, model_type="pytorch")
    with pytest.raises(UserError, match="model_type 'pytorch'"):
        client.infer(request)


def test_an_older_controller_without_a_type_still_runs_by_the_suffix(
    client: AgentClient, model_without_suffix: Path
) -> None:
    sha = client.ensure_artifact(Artifact.from_file(model_without_suffix))
    events = _profile(client, sha, model_filename="tiny.tflite")
    assert [e.done.iterations for e in events if e.HasField("done")] == [3]
    [event] = _profile(client, sha, model_filename="model")  # no type, no suffix
    assert event.error.error_type == "InvalidModelError"
    assert "no runtime for suffix ''" in event.error.message
