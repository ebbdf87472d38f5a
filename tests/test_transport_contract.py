"""The transport contract: what every kind of transport must do, run against each.

A new kind joins by adding a ``Kind`` factory to ``KINDS``; every test here then runs
against it. ``local`` is this host (the agent as a subprocess); ``adb`` is a phone
stand-in (a Galaxy S23's props) behind the real adb server, its agent deployed and
started through adb. The agent is the real one over real gRPC. What is one kind's
alone (adb's shell, reboot and reconnect; the local runtime's modes) is tested in
that kind's own files (``test_adb_e2e.py``, ``test_local_runtime.py``).

Cost: about 20 s for both kinds, most of it starting the agents (one per kind, kept
for the module) and the adb server with its stand-in.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent import __version__ as agent_version
from agent.runtimes.litert_delegates import QNN_LIBRARY
from controller.agent_client import Artifact
from controller.devices import DeviceRegistry
from controller.devices.matching import match_profile
from controller.devices.profiles import DeviceProfile, load_profiles
from controller.transports.adb import AdbDiscovery
from controller.transports.base import Discovery, FoundDevice, Transport, discover
from controller.transports.local import LOCAL_SERIAL, LocalDiscovery
from controller.transports.props import MACHINE_KEY, PRODUCT_MODEL_KEY, host_props
from phone_standin.testing import (
    GALAXY_S23_PROPS,
    adb_server,
    connected_standin,
    find_adb,
)


@dataclass
class Kind:
    """One kind of transport with one device it reaches, as the contract sees them."""

    discovery: Discovery
    serial: str
    #: Props the device must report (a subset of what discovery lists).
    props: dict[str, str]
    #: A folder on this host that the device's agent reads by the same path (the
    #: stand-in's agent runs on this host: only its shell commands are rewritten).
    shared_folder: Path


@pytest.fixture(scope="module")
def local_kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kind]:
    props = {MACHINE_KEY: host_props()[MACHINE_KEY]}
    yield Kind(LocalDiscovery(), LOCAL_SERIAL, props, tmp_path_factory.mktemp("local-shared"))


@pytest.fixture(scope="module")
def adb_kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kind]:
    if find_adb() is None:
        pytest.skip("no `adb` on PATH (apt-get install adb)")
    patch = pytest.MonkeyPatch()
    with adb_server() as server:
        patch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
        sandbox = tmp_path_factory.mktemp("contract-s23")
        with connected_standin(server, sandbox, GALAXY_S23_PROPS) as phone:
            props = {PRODUCT_MODEL_KEY: str(GALAXY_S23_PROPS[PRODUCT_MODEL_KEY])}
            shared = phone.host_path("/data/local/tmp/contract")
            yield Kind(AdbDiscovery(), phone.serial, props, shared)
    patch.undo()


KINDS = {"local": "local_kind", "adb": "adb_kind"}


@pytest.fixture(scope="module", params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.getfixturevalue(KINDS[request.param])


@pytest.fixture(scope="module")
def found(kind: Kind) -> Iterator[FoundDevice]:
    """The kind's device as discovery opens it; its agent is started by the first test
    that connects and kept for the module."""
    device = kind.discovery.open(kind.serial)
    yield device
    device.transport.close()


def _artifact(tmp_path: Path) -> Artifact:
    path = tmp_path / "weights.bin"
    path.write_bytes(secrets.token_bytes(4096))  # new bytes: never on the device before
    return Artifact.from_file(path)


def test_discovery_lists_the_device_with_its_properties(kind: Kind) -> None:
    listed = {device.serial: device for device in discover(kind.discovery)}
    assert kind.serial in listed
    device = listed[kind.serial]
    assert device.props.items() >= kind.props.items()
    assert device.transport.serial == kind.serial


def test_opening_a_device_that_is_not_listed_fails_naming_it(kind: Kind) -> None:
    from controller.errors import Error

    assert "no-such-device" not in (kind.discovery.list_serials() or [])
    with pytest.raises(Error, match="no-such-device"):
        kind.discovery.open("no-such-device")


def test_connect_starts_the_agent_and_it_answers(found: FoundDevice) -> None:
    client = found.transport.connect()
    reply = client.ping()
    assert reply.agent_version == agent_version and reply.pid > 0
    assert found.transport.connect().ping().pid == reply.pid  # the same agent, reused


def test_push_makes_an_artifact_present_and_a_second_push_sends_nothing(
    found: FoundDevice, tmp_path: Path
) -> None:
    transport: Transport = found.transport
    client = transport.connect()
    artifact = _artifact(tmp_path)
    assert not client.has_artifact(artifact.sha256)
    sent: list[int] = []
    assert transport.push_artifact(client, artifact, lambda done, _: sent.append(done)) == (
        artifact.sha256
    )
    assert client.has_artifact(artifact.sha256) and sent[-1] == 4096
    again: list[int] = []
    assert transport.push_artifact(client, artifact, lambda done, _: again.append(done)) == (
        artifact.sha256
    )
    assert again == []


def test_describe_says_what_the_device_is_and_the_python_the_agent_runs_on(
    found: FoundDevice,
) -> None:
    found.transport.connect()
    described = found.transport.describe()
    assert described["arch"] and described["os"] in ("linux", "android")
    assert described["python"]["command"]


def test_health_is_a_timed_snapshot_that_never_fails(found: FoundDevice) -> None:
    health = found.transport.health()
    assert health["taken_at"] > 0 and "error" not in health


def test_recovering_an_answering_agent_keeps_it(found: FoundDevice) -> None:
    pid = found.transport.connect().ping().pid
    found.transport.recover_agent()
    assert found.transport.connect().ping().pid == pid


def test_after_close_connect_reaches_an_agent_again(found: FoundDevice) -> None:
    found.transport.connect()
    found.transport.close()
    assert found.transport.connect().ping().agent_version == agent_version


def test_the_agent_looks_in_the_device_profiles_qnn_folders_when_asked_what_it_runs(
    kind: Kind,
) -> None:
    """A QNN delegate kept in the profile's ``libraries.qnn`` folder (on a phone, outside
    any runtime package) is what GetDeviceInfo reports: the folders reach the agent."""
    props = kind.discovery.open(kind.serial).props
    folder = kind.shared_folder / "qnn-libs"
    profiles = load_profiles()
    own = match_profile(props, profiles)
    assert own is not None
    profiles = _with_qnn_folder(profiles, own, str(folder))  # as the agent sees the folder
    library = folder / QNN_LIBRARY
    library.parent.mkdir(parents=True, exist_ok=True)
    library.write_bytes(b"\x7fELF")  # looked up by name; GetDeviceInfo never loads it
    discoveries = {d.kind: d for d in (LocalDiscovery(), kind.discovery)}  # this host first
    registry = DeviceRegistry(list(discoveries.values()), profiles)
    try:
        entry = registry.entry(kind.serial)
        assert entry is not None and entry.library_dirs == [str(folder)]
        litert = {r.name: r for r in entry.device_info().runtimes}["litert"]
    finally:
        library.unlink()
        registry.close()
    assert "qnn" in litert.accelerators


def _with_qnn_folder(
    profiles: list[DeviceProfile], profile: DeviceProfile, folder: str
) -> list[DeviceProfile]:
    edited = dataclasses.replace(profile, qnn_library_dirs=(folder,))
    return [edited if p is profile else p for p in profiles]
