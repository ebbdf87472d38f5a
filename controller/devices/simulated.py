"""Simulated Snapdragons: every SoC in ``device_profiles/`` as a device on this host.

``onnxruntime-qnn`` ships ``libQnnHtp.so`` for x86_64, which runs the HTP backend as
a simulator on the CPU. Told a SoC (``soc_model``, ``htp_arch``, VTCM, fp16) it
prepares and runs the graph as that SoC's HTP would; told nothing it defaults to
SM8350, where a real-size fp32 image model fails to finalize
(``QNN_COMMON_ERROR_MEM_ALLOC``) and falls back to the CPU whole. So each SoC with an
HTP becomes a device named ``"<SoC> (simulated)"`` with serial ``sim:<part number>``.

They all share the host's one agent: the agent runs every job in a fresh child
process, so nothing of one SoC's simulation survives into the next job, and the
devices differ only by the facts sent with each job (``DeviceEntry.facts``); each
reaches the agent through a ``controller.transports.simulated.SimulatedTransport``. Each
has its own serial, so the store's one-running-job-per-device holds per simulated
SoC; the shared agent's job lock then runs them one after another, which also keeps
one simulation from slowing another's timings.

Selection: a simulated device answers only to a filter that asks for it — its own
name or serial, or the ``simulated:true`` attribute — so a job for "any 8 Gen 2"
never lands on a simulator because the phone was busy. With ``DEVICELAB_SIMULATE=1``
(or ``devicelab --simulate``) a phone or SoC that is not attached resolves to its
SoC's simulated twin at submit time (``DeviceRegistry.job_filter``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controller import settings
from controller.devices.attributes import device_attributes
from controller.devices.profiles import DeviceProfile

SIMULATE_ENV = "DEVICELAB_SIMULATE"
SIMULATED_SERIAL_PREFIX = "sim:"
SIMULATED_ATTRIBUTE = "simulated:true"
#: Kept in a job's device filter when the twin stands in for the device it named.
TWIN_OF_KEY = "simulated_twin_of"
SIMULATION_NOTE = (
    "Qualcomm's HTP simulator on this host's CPU, configured as this SoC: which layers "
    "the NPU takes and their cycle counts are the simulator's; times are this host's, "
    "not a phone's"
)


def simulate_enabled() -> bool:
    """Whether ``DEVICELAB_SIMULATE`` opts in to simulated twins of absent devices."""
    return settings.flag(SIMULATE_ENV)


def simulatable(profile: DeviceProfile) -> bool:
    """SoCs with a known HTP; the host profile (the bare simulator) is the ``local`` device."""
    return profile.has_npu and not profile.htp_simulator


def simulated_name(profile: DeviceProfile) -> str:
    """``"Snapdragon 8 Gen 2 (simulated)"``."""
    return f"{profile.name} (simulated)"


def simulated_serial(profile: DeviceProfile) -> str:
    """``"sim:SM8550"``: unique per SoC, so the store runs one job at a time on each."""
    return f"{SIMULATED_SERIAL_PREFIX}{profile.part_number}"


def simulated_attributes(profile: DeviceProfile, frameworks: Iterable[str]) -> list[str]:
    """The SoC's chipset and HTP attributes, plus what the device really is: this host.

    No Android properties, so ``os:linux``; ``format:compute`` rather than the SoC's
    ``phone``: a filter that asks for an Android phone never gets a simulator.
    """
    attrs = {a for a in device_attributes({}, profile, frameworks) if not a.startswith("format:")}
    attrs |= {"format:compute", "htp-simulator:true", SIMULATED_ATTRIBUTE}
    return sorted(attrs)


def simulated_facts(profile: DeviceProfile) -> dict[str, Any]:
    """What the agent configures the simulator with; no phone library paths on the host."""
    return {
        "soc_model": profile.soc_model or "",
        "htp_arch": profile.htp_arch or "",
        "htp_fp16": str(profile.htp_fp16).lower(),
        "vtcm_mb": profile.vtcm_mb or "",
        "library_dirs": [],
    }


def simulation_record(profile: DeviceProfile, twin_of: dict[str, Any] | None) -> dict[str, Any]:
    """``devicelab.simulation`` of a result: which SoC was simulated, and for whom."""
    record: dict[str, Any] = {
        "soc": profile.name,
        "part_number": profile.part_number,
        "soc_model": profile.soc_model,
        "htp_arch": profile.hexagon,
        "vtcm_mb": profile.vtcm_mb,
        "htp_fp16": profile.htp_fp16,
        "note": SIMULATION_NOTE,
    }
    if twin_of:
        record["stands_in_for"] = twin_of
    return record
