"""The agent's error tree, as ``agent/errors.py`` draws it, is what the servicer returns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import agent.errors
from agent.errors import AgentError
from agent.server import status_for
from controller.agent_client import AgentClient, grpc_errors
from controller.errors import InternalError, UserError
from protos import agent_pb2 as pb
from tests.agent_in_process import agent_client

# "    ├── InvalidModelError   -> INVALID_ARGUMENT (...)" in the module docstring
_TREE_LINE = re.compile(r"^\s*(?:[├└]── )?(\w+Error)\s+-> (\w+)", re.MULTILINE)


def _drawn_tree() -> dict[str, str]:
    return dict(_TREE_LINE.findall(agent.errors.__doc__ or ""))


def _error_classes() -> dict[str, type[AgentError]]:
    return {
        name: cls
        for name, cls in vars(agent.errors).items()
        if isinstance(cls, type) and issubclass(cls, AgentError)
    }


def test_the_docstring_tree_names_every_error_class_and_the_status_it_gets() -> None:
    drawn = _drawn_tree()
    assert set(drawn) == set(_error_classes())
    for name, cls in _error_classes().items():
        assert status_for(cls("x")).name == drawn[name], name


class _FailedCall(grpc.RpcError):
    """What a failed unary call raises on the controller's side, with ``code``."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "the agent's message"


def test_user_caused_errors_are_exactly_the_ones_the_controller_reports_as_the_users() -> None:
    for name, cls in _error_classes().items():
        expected = UserError if cls.user_caused else InternalError
        with pytest.raises(expected), grpc_errors("local"):
            raise _FailedCall(status_for(cls(name)))


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[AgentClient]:
    with agent_client(tmp_path) as agent:
        yield agent


def test_inference_on_a_model_the_device_does_not_hold_is_not_found(client: AgentClient) -> None:
    request = pb.InferRequest(job_id="j", artifact_sha256="0" * 64, model_type="tflite")
    with pytest.raises(UserError, match="not on this device") as caught:
        client.infer(request)
    cause = caught.value.__cause__
    assert isinstance(cause, grpc.RpcError) and cause.code() == grpc.StatusCode.NOT_FOUND
