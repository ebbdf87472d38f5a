"""Sync v2 and its compression, end to end: our push and the real adb against the phone stand-in.

Two real adb servers: Debian's (29.x, knows no sync v2 itself but passes the
device's features and sync bytes through) and the one in the adbutils wheel
(36.x, whose ``adb push``/``pull`` speak SND2/RCV2 with ``-z``). The real 36.x
client checks the stand-in's codecs both ways; the stand-in then checks ours.
Each stand-in records what every transfer asked for (``"SND2 zstd"``, ``"SEND"``).
"""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from controller.errors import UserError
from controller.transports.adb_sync import SyncPushError, device_features, sync_push
from controller.transports.sync_compression import (
    METHODS,
    CompressionError,
    choose_method,
    method_for_flags,
)
from phone_standin import FEATURES_BEFORE_V2, StandinDevice
from phone_standin.testing import (
    AdbServer,
    adb_server,
    bundled_adb,
    connected_standin,
    find_adb,
)

pytestmark = pytest.mark.adb
METHOD_NAMES = [method.name for method in METHODS]
V2_FLAGS_FRAME = struct.Struct("<4sII")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def debian() -> Iterator[AdbServer]:
    if find_adb() is None:
        pytest.skip("no `adb` on PATH (apt-get install adb, or set DEVICELAB_ADB)")
    with adb_server() as running:
        yield running


@pytest.fixture(scope="module")
def modern() -> Iterator[AdbServer]:
    binary = bundled_adb()
    if binary is None:
        pytest.skip("the adbutils wheel carries no adb binary for this platform")
    with adb_server(binary) as running:
        yield running


@pytest.fixture
def open_phone(tmp_path: Path) -> Iterator[Callable[..., StandinDevice]]:
    """Start stand-ins on a server for the test: ``open_phone(server, features=...)``."""
    with ExitStack() as stack:
        numbers = itertools.count()

        def start(server: AdbServer, features: tuple[str, ...] | None = None) -> StandinDevice:
            sandbox = tmp_path / f"phone{next(numbers)}"
            return stack.enter_context(connected_standin(server, sandbox, features=features))

        yield start


def compressible(path: Path, size: int = 3 * 1024 * 1024) -> Path:
    """Mostly zeros with some noise: a pruned int8 model in miniature."""
    rng = os.urandom(size // 8)
    path.write_bytes(b"".join(rng[i : i + 64] + bytes(448) for i in range(0, len(rng), 64)))
    return path


def incompressible(path: Path, size: int = 3 * 1024 * 1024 + 5) -> Path:
    path.write_bytes(os.urandom(size))
    return path


# ---------------------------------------------------------------- pure protocol facts


def test_flags_name_one_method_and_refuse_two_or_unknown_bits() -> None:
    assert method_for_flags(0) is None
    assert [method_for_flags(m.flag).name for m in METHODS] == METHOD_NAMES  # type: ignore[union-attr]
    with pytest.raises(CompressionError, match="multiple"):
        method_for_flags(1 | 4)
    with pytest.raises(CompressionError, match="unknown"):
        method_for_flags(0x10)


def test_any_picks_zstd_then_lz4_then_brotli_as_adb_does() -> None:
    v2 = {"sendrecv_v2"}
    everything = v2 | {m.feature for m in METHODS}
    assert choose_method("any", everything).name == "zstd"  # type: ignore[union-attr]
    assert choose_method("any", v2 | {"sendrecv_v2_lz4", "sendrecv_v2_brotli"}).name == "lz4"  # type: ignore[union-attr]
    assert choose_method("any", v2) is None
    assert choose_method("brotli", everything).name == "brotli"  # type: ignore[union-attr]
    assert choose_method("zstd", {"sendrecv_v2_zstd"}) is None  # no sync v2: no compression
    assert choose_method("none", everything) is None
    with pytest.raises(UserError, match="compression='gzip': use one of"):
        choose_method("gzip", everything)


def test_adb_compression_variable_is_read_like_adb(monkeypatch: pytest.MonkeyPatch) -> None:
    everything = {"sendrecv_v2"} | {m.feature for m in METHODS}
    monkeypatch.setenv("ADB_COMPRESSION", "0")
    assert choose_method(None, everything) is None
    monkeypatch.setenv("ADB_COMPRESSION", "lz4")
    assert choose_method(None, everything).name == "lz4"  # type: ignore[union-attr]
    assert choose_method("zstd", everything).name == "zstd"  # type: ignore[union-attr]
    monkeypatch.setenv("ADB_COMPRESSION", "fast")
    with pytest.raises(UserError, match=r"\$ADB_COMPRESSION='fast'"):
        choose_method(None, everything)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_codec_round_trip_in_odd_chunks_and_refuses_bad_streams(name: str) -> None:
    method = next(m for m in METHODS if m.name == name)
    data = os.urandom(1000) + bytes(300_000) + os.urandom(77)
    encoder = method.new_encoder()
    stream = encoder.compress(data[:123_457]) + encoder.compress(data[123_457:]) + encoder.finish()
    decoder = method.new_decoder()
    out = b"".join(decoder.decompress(stream[i : i + 999]) for i in range(0, len(stream), 999))
    decoder.finish()
    assert out == data
    short = method.new_decoder()
    short.decompress(stream[: len(stream) // 2])
    with pytest.raises(CompressionError, match="truncated"):
        short.finish()
    with pytest.raises(CompressionError):  # trailing bytes in the same chunk
        method.new_decoder().decompress(stream + stream[:10])
    extra = method.new_decoder()
    extra.decompress(stream)
    with pytest.raises(CompressionError, match="after the end"):  # in a later chunk
        extra.decompress(b"\0")
    with pytest.raises(CompressionError):
        garbage = method.new_decoder()
        garbage.decompress(b"\xff" * 64)
        garbage.finish()


# ---------------------------------------------------------------- our push


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_our_push_compresses_with_each_method_the_device_offers(
    modern: AdbServer, open_phone: Callable[..., StandinDevice], tmp_path: Path, name: str
) -> None:
    phone = open_phone(modern)
    source = compressible(tmp_path / "model.bin")
    device = modern.client().device(phone.serial)
    assert sync_push(device, source, "/data/local/tmp/m.bin", compression=name) == len(
        source.read_bytes()
    )
    assert phone.host_path("/data/local/tmp/m.bin").read_bytes() == source.read_bytes()
    assert phone.transfers == [f"SND2 {name}"]


def test_default_compresses_a_compressible_model_and_not_random_bytes(
    debian: AdbServer, open_phone: Callable[..., StandinDevice], tmp_path: Path
) -> None:
    """Through Debian's 29.x server too: it passes the device's features and SND2 through."""
    phone = open_phone(debian)
    device = debian.client().device(phone.serial)
    assert "sendrecv_v2_zstd" in device_features(device)
    for source in (compressible(tmp_path / "pruned.bin"), incompressible(tmp_path / "rand.bin")):
        sync_push(device, source, f"/data/local/tmp/{source.name}")
        assert phone.host_path(f"/data/local/tmp/{source.name}").read_bytes() == (
            source.read_bytes()
        )
    assert phone.transfers == ["SND2 zstd", "SND2 none"]


def test_an_older_phone_gets_a_v1_push_whatever_was_asked(
    debian: AdbServer, open_phone: Callable[..., StandinDevice], tmp_path: Path
) -> None:
    phone = open_phone(debian, FEATURES_BEFORE_V2)
    device = debian.client().device(phone.serial)
    source = compressible(tmp_path / "model.bin")
    for word in ("any", "zstd"):
        sync_push(device, source, f"/data/local/tmp/{word}.bin", mode=0o600, compression=word)
        pushed = phone.host_path(f"/data/local/tmp/{word}.bin")
        assert pushed.read_bytes() == source.read_bytes()
        assert pushed.stat().st_mode & 0o777 == 0o600
    assert phone.transfers == ["SEND", "SEND"]


def test_progress_counts_up_and_reaches_the_total_only_once_confirmed(
    modern: AdbServer, open_phone: Callable[..., StandinDevice], tmp_path: Path
) -> None:
    phone = open_phone(modern)
    device = modern.client().device(phone.serial)
    source = compressible(tmp_path / "model.bin", 5 * 1024 * 1024)
    total = source.stat().st_size
    seen: list[int] = []
    sync_push(device, source, "/data/local/tmp/m.bin", lambda done, _: seen.append(done))
    assert seen == sorted(seen) and seen.count(total) == 1 and seen[-1] == total
    assert len(seen) > 2  # it moved on the way, not only at the end

    failed: list[int] = []

    def unplug_at_a_third(done: int, whole: int) -> None:
        failed.append(done)
        if done > whole // 3:
            phone.unplug()

    try:
        with pytest.raises((SyncPushError, OSError)):
            sync_push(device, source, "/data/local/tmp/n.bin", unplug_at_a_third)
    finally:
        phone.replug()
    assert failed and max(failed) < total


# ---------------------------------------------------------------- the stand-in against real adb 36


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_real_adb_pushes_and_pulls_with_each_method(
    modern: AdbServer, open_phone: Callable[..., StandinDevice], tmp_path: Path, name: str
) -> None:
    phone = open_phone(modern)
    source = compressible(tmp_path / "model.bin")
    modern.run("-s", phone.serial, "push", "-z", name, str(source), "/data/local/tmp/m.bin")
    assert phone.host_path("/data/local/tmp/m.bin").read_bytes() == source.read_bytes()
    back = tmp_path / "back.bin"
    modern.run("-s", phone.serial, "pull", "-z", name, "/data/local/tmp/m.bin", str(back))
    assert back.read_bytes() == source.read_bytes()
    assert phone.transfers == [f"SND2 {name}", f"RCV2 {name}"]


def test_real_adb_push_defaults_to_zstd_and_dry_run_writes_nothing(
    modern: AdbServer, open_phone: Callable[..., StandinDevice], tmp_path: Path
) -> None:
    phone = open_phone(modern)
    source = incompressible(tmp_path / "rand.bin")
    modern.run("-s", phone.serial, "push", str(source), "/data/local/tmp/r.bin")
    modern.run("-s", phone.serial, "push", "-n", str(source), "/data/local/tmp/dry.bin")
    assert phone.host_path("/data/local/tmp/r.bin").read_bytes() == source.read_bytes()
    assert not phone.host_path("/data/local/tmp/dry.bin").exists()
    assert phone.transfers == ["SND2 zstd", "SND2 zstd dry-run"]
    listing = modern.run("-s", phone.serial, "ls", "/data/local/tmp")  # LIS2 (ls_v2)
    assert "r.bin" in listing and "dry.bin" not in listing


def test_real_adb_falls_back_to_v1_on_an_older_phone(
    modern: AdbServer, open_phone: Callable[..., StandinDevice], tmp_path: Path
) -> None:
    phone = open_phone(modern, FEATURES_BEFORE_V2)
    source = compressible(tmp_path / "model.bin")
    modern.run("-s", phone.serial, "push", str(source), "/data/local/tmp/m.bin")
    modern.run("-s", phone.serial, "pull", "/data/local/tmp/m.bin", str(tmp_path / "b.bin"))
    assert (tmp_path / "b.bin").read_bytes() == source.read_bytes()
    assert phone.transfers == ["SEND", "RECV"]


# ---------------------------------------------------------------- bad streams are errors


def _raw_send2(server: AdbServer, serial: str, flags: int, payload: bytes) -> bytes:
    """SND2 with ``flags``, ``payload`` as DATA frames, DONE; return the device's status frame."""
    device = server.client().device(serial)
    path = b"/data/local/tmp/bad.bin"
    frames = b"".join(
        struct.pack("<4sI", b"DATA", len(payload[i : i + 65536])) + payload[i : i + 65536]
        for i in range(0, len(payload), 65536)
    )
    with device.open_transport(timeout=10) as conn:
        conn.send_command("sync:")
        conn.check_okay()
        conn.conn.sendall(
            struct.pack("<4sI", b"SND2", len(path))
            + path
            + V2_FLAGS_FRAME.pack(b"SND2", 0o100644, flags)
            + frames
            + struct.pack("<4sI", b"DONE", 0)
        )
        status, length = struct.unpack("<4sI", conn.read_exact(8))
        return status + (conn.read_exact(length) if status == b"FAIL" else b"")


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_a_corrupt_or_short_compressed_push_fails_with_the_reason(
    modern: AdbServer, open_phone: Callable[..., StandinDevice], name: str
) -> None:
    phone = open_phone(modern)
    method = next(m for m in METHODS if m.name == name)
    encoder = method.new_encoder()
    stream = encoder.compress(os.urandom(5000) + bytes(200_000)) + encoder.finish()
    short = _raw_send2(modern, phone.serial, method.flag, stream[: len(stream) // 2])
    assert short.startswith(b"FAIL") and b"decompress failed" in short and b"truncated" in short
    corrupt = _raw_send2(modern, phone.serial, method.flag, b"\x00\xff" * 3000)
    assert corrupt.startswith(b"FAIL") and b"decompress failed" in corrupt
    good = _raw_send2(modern, phone.serial, method.flag, stream)
    assert good == b"OKAY"


def test_send2_is_refused_by_a_phone_that_did_not_offer_it(
    modern: AdbServer, open_phone: Callable[..., StandinDevice]
) -> None:
    phone = open_phone(modern, FEATURES_BEFORE_V2)
    answer = _raw_send2(modern, phone.serial, 0, b"abc")
    assert answer.startswith(b"FAIL") and b"unknown sync request" in answer
    phone_v2 = open_phone(modern)
    assert _raw_send2(modern, phone_v2.serial, 1 | 4, b"abc").startswith(b"FAIL")


# ---------------------------------------------------------------- delayed_ack


def test_delayed_ack_windows_carry_push_pull_and_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server started with ADB_BURST_MODE=1 offers delayed_ack; the stand-in then
    uses byte windows in both directions instead of one packet in flight."""
    binary = bundled_adb()
    if binary is None:
        pytest.skip("the adbutils wheel carries no adb binary for this platform")
    monkeypatch.setenv("ADB_BURST_MODE", "1")  # adb 36's name (ADB_DELAYED_ACK before)
    with (
        adb_server(binary) as server,
        connected_standin(server, tmp_path / "phone") as phone,
    ):
        assert phone.delayed_ack
        device = server.client().device(phone.serial)
        source = incompressible(tmp_path / "big.bin", 40 * 1024 * 1024 + 3)  # > one window
        sync_push(device, source, "/data/local/tmp/a.bin")
        server.run("-s", phone.serial, "push", str(source), "/data/local/tmp/b.bin")
        back = tmp_path / "back.bin"
        server.run("-s", phone.serial, "pull", "/data/local/tmp/b.bin", str(back))
        assert back.read_bytes() == source.read_bytes()
        assert phone.host_path("/data/local/tmp/a.bin").read_bytes() == source.read_bytes()
        assert device.shell2("head -c 3000000 /dev/zero | wc -c; exit 3", v2=True).returncode == 3
        assert device.shell("head -c 3000000 /dev/zero | wc -c").strip() == "3000000"


def test_without_the_hosts_offer_the_stand_in_keeps_one_packet_in_flight(
    modern: AdbServer, open_phone: Callable[..., StandinDevice]
) -> None:
    assert not open_phone(modern).delayed_ack
