"""Errors raised on the device side.

The agent never imports the controller, so it has its own small hierarchy. Each
class names its gRPC status code (``grpc_status``), which the servicer returns for a
unary call (``agent/server.status_for``); the controller maps the codes back to
``UserError`` / ``InternalError`` at its boundary (``controller/agent_client.py``:
INVALID_ARGUMENT, FAILED_PRECONDITION and NOT_FOUND are the user's).
``tests/test_agent_errors.py`` keeps this tree and the code in step.

    AgentError                      -> INTERNAL (our bug, or the runtime broke)
    ├── InvalidModelError           -> INVALID_ARGUMENT (the file is not a model we can load)
    ├── InvalidOptionError          -> INVALID_ARGUMENT (an option this runtime cannot apply)
    ├── MissingLibraryError         -> FAILED_PRECONDITION (a delegate/backend library is absent)
    ├── RuntimeUnavailableError     -> FAILED_PRECONDITION (runtime package not installed)
    ├── DelegateError               -> FAILED_PRECONDITION (a delegate / EP failed, no fallback)
    ├── ArtifactNotFoundError       -> NOT_FOUND
    └── JobCancelledError           -> CANCELLED
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""

    #: True when the user's input caused it (controller raises UserError).
    user_caused: bool = False
    #: The ``grpc.StatusCode`` name a unary call fails with.
    grpc_status: str = "INTERNAL"


class InvalidModelError(AgentError):
    user_caused = True
    grpc_status = "INVALID_ARGUMENT"


class InvalidOptionError(AgentError):
    user_caused = True
    grpc_status = "INVALID_ARGUMENT"


class MissingLibraryError(AgentError):
    """A library the requested path needs is not on this device.

    The message must name the library (e.g. ``libQnnTFLiteDelegate.so``) and
    where it was looked for.
    """

    user_caused = True
    grpc_status = "FAILED_PRECONDITION"


class RuntimeUnavailableError(AgentError):
    user_caused = True
    grpc_status = "FAILED_PRECONDITION"


class DelegateError(AgentError):
    """A requested delegate or execution provider failed and fallback was off.

    The message names the delegate, its library and the reason.
    """

    user_caused = True
    grpc_status = "FAILED_PRECONDITION"


class ArtifactNotFoundError(AgentError):
    user_caused = True
    grpc_status = "NOT_FOUND"


class JobCancelledError(AgentError):
    grpc_status = "CANCELLED"
