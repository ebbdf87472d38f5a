"""The CPU architectures devicelab builds runtimes for, and what differs between them.

Everything else about a runtime (Debian's CPython and glibc, pinned wheels,
the loader-started launcher) is the same on each: an aarch64 phone and this
x86_64 host run the agent from runtimes built by the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arch:
    """One architecture as Debian, glibc and the ELF headers name it."""

    name: str  # uname -m, and the wheel tags' suffix (manylinux_2_36_<name>)
    debian: str  # Debian's architecture name
    loader: str  # glibc's dynamic loader, shipped in the runtime's lib/
    elf_machine: str  # e_machine of the runtime's CPU code (pyelftools' name)
    triplet: str  # Debian's multiarch folder (lib/<triplet>)


ARCHES: dict[str, Arch] = {
    "aarch64": Arch("aarch64", "arm64", "ld-linux-aarch64.so.1", "EM_AARCH64",
                    "aarch64-linux-gnu"),
    "x86_64": Arch("x86_64", "amd64", "ld-linux-x86-64.so.2", "EM_X86_64", "x86_64-linux-gnu"),
}  # fmt: skip
