"""Route an OPENed service name to its handler (phone stand-in, test infrastructure).

Services: ``shell:``/``shell,ARGS:``/``exec:`` (:mod:`.shell`), ``sync:``
(:mod:`.sync`), ``tcp:PORT`` (:mod:`.forward`). Anything else fails the OPEN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from phone_standin.forward import open_forward
from phone_standin.paths import DevicePaths
from phone_standin.processes import ProcessRegistry
from phone_standin.shell import ShellSession, parse_shell_service
from phone_standin.streams import Stream
from phone_standin.sync import serve_sync

Handler = Callable[[Stream], None]


@dataclass(frozen=True)
class DeviceContext:
    """What services need from the device: path mapping, processes, advertised features.

    ``transfers`` records each sync push or pull as it arrived (``"SND2 zstd"``,
    ``"SEND"``, ``"RCV2 none"``), for tests that check what a client negotiated.
    """

    paths: DevicePaths
    processes: ProcessRegistry
    features: frozenset[str]
    transfers: list[str] = field(default_factory=list)


def open_service(name: str, context: DeviceContext) -> Handler | None:
    """Return the handler for a service name, or None if the OPEN must fail."""
    if name == "sync:":
        return lambda stream: serve_sync(stream, context)
    if name.startswith("tcp:"):
        return open_forward(name)
    request = parse_shell_service(name)
    if request is not None:
        return lambda stream: ShellSession(stream, request, context.paths, context.processes).run()
    return None
