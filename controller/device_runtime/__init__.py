"""The device runtime: a self-contained aarch64 Python for devices that have none.

A stock Android phone has no Python and no glibc. The runtime is one folder
built on the host from the package registries alone (Debian's arm64 CPython,
its glibc loader and libraries, the agent's aarch64 wheels), pushed once per
device, cached by content hash, and started through the bundled loader
(``ld-linux-aarch64.so.1 --library-path ... --argv0 LAUNCHER python3.11``).
The agent's code travels separately, as today's small zip.
"""
