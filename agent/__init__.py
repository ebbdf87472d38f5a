"""devicelab agent: runs on the device, owns the runtimes, serves gRPC.

Deployed alone: it must never import from ``controller``.
"""

__version__ = "0.1.0"
