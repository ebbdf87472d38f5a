"""``get_frameworks``: the ML frameworks this lab runs, as the cloud client's ``Framework``.

The cloud service lists the QAIRT (QNN SDK) versions it compiles with. devicelab lists
what its runtimes really are, as the agent on this host reports them
(``DeviceInfo.runtimes``): LiteRT, ONNX Runtime, and QAIRT when ONNX Runtime found QNN
backends. Each framework has one version here, so each carries both tags the client
knows, ``"default"`` and ``"latest"``. Phones are not asked: starting an agent on each
would take seconds per phone, and scripts call this to pick a version, not a device.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from controller.devices import DeviceRegistry

# Names as users know them; "QAIRT" is the client's own name for the QNN SDK.
_NAMES = {"litert": "LiteRT", "onnxruntime": "ONNX Runtime"}
QAIRT = "QAIRT"
_TAGS = ("default", "latest")


@dataclass
class Framework:
    """An ML framework (as the client's ``Framework``).

    Attributes:
        name: e.g. "QAIRT", "ONNX Runtime", "LiteRT".
        api_version: major.minor, e.g. "2.51".
        api_tags: "default" and "latest" (one version of each framework is installed).
        full_version: the whole version, e.g. "2.51.0".
    """

    name: str = ""
    api_version: str = ""
    api_tags: list[str] = field(default_factory=list)
    full_version: str = ""


def _framework(name: str, version: str) -> Framework:
    api_version = ".".join(version.split(".")[:2])
    return Framework(name, api_version, list(_TAGS), version)


def frameworks_from_runtimes(runtimes: Iterable[Any], qnn_sdk_version: str) -> list[Framework]:
    """Frameworks for the agent's ``RuntimeInfo`` list; unavailable runtimes are left out.

    ``qnn_sdk_version`` is the QNN SDK the host's onnxruntime-qnn bundles (the agent
    reports QNN backends, not their version); QAIRT is listed when a runtime found QNN
    backends and that version is known.
    """
    found = []
    has_qnn = False
    for runtime in runtimes:
        if not runtime.available:
            continue
        if runtime.name in _NAMES and runtime.version:
            found.append(_framework(_NAMES[runtime.name], runtime.version))
        has_qnn = has_qnn or bool(runtime.backends)
    if has_qnn and qnn_sdk_version:
        found.insert(0, _framework(QAIRT, qnn_sdk_version))
    return found


def local_frameworks(registry: DeviceRegistry) -> list[Framework]:
    """The frameworks the agent on this host reports (starts it if it is not running)."""
    from agent.runtimes.qnn_ep import qnn_versions
    from controller.transports.local_runtime import managed_qnn_versions

    local = registry.local()
    transport = local.transport
    info = local.device_info()
    # The local agent runs on devicelab's managed runtime, whose onnxruntime-qnn says
    # its QNN SDK; or (DEVICELAB_LOCAL_RUNTIME=current) on this interpreter, whose
    # onnxruntime-qnn is the agent's.
    python = getattr(transport, "python", None)
    versions = managed_qnn_versions(python) if python is not None else {}
    sdk = versions.get("qnn_sdk") or qnn_versions().get("qnn_sdk", "")
    return frameworks_from_runtimes(info.runtimes, sdk)
