"""Errors raised on the device side.

The agent never imports the controller, so it has its own small hierarchy. The
servicer maps each class to one gRPC status code; the controller maps status
codes back to ``UserError`` / ``InternalError`` at its boundary.

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


class InvalidModelError(AgentError):
    user_caused = True


class InvalidOptionError(AgentError):
    user_caused = True


class MissingLibraryError(AgentError):
    """A library the requested path needs is not on this device.

    The message must name the library (e.g. ``libQnnTFLiteDelegate.so``) and
    where it was looked for.
    """

    user_caused = True


class RuntimeUnavailableError(AgentError):
    user_caused = True


class DelegateError(AgentError):
    """A requested delegate or execution provider failed and fallback was off.

    The message names the delegate, its library and the reason.
    """

    user_caused = True


class ArtifactNotFoundError(AgentError):
    user_caused = True


class JobCancelledError(AgentError):
    pass
