"""A profile's stages by name, and their ``Stage`` values on the wire.

The agent reports stages by these names (``agent/events.py``); the controller's results
and reports name them the same way.
"""

from __future__ import annotations

from protos import agent_pb2 as pb

#: Stage name -> ``Stage`` enum value, in the order a job passes them.
STAGES = {
    "first_load": pb.STAGE_FIRST_LOAD,
    "warm_load": pb.STAGE_WARM_LOAD,
    "warmup": pb.STAGE_WARMUP,
    "inference": pb.STAGE_INFERENCE,
    "layer_profile": pb.STAGE_LAYER_PROFILE,
}
