"""What ``import qai_hub`` gives inside ``devicelab run``: devicelab's public API under the
cloud client's names (``qai_hub/__init__.py`` re-exports ``client`` and ``hub``).

Aliased by ``controller.hub_shim``; import it as ``qai_hub`` only through that.
"""

from controller import *  # noqa: F403  (the drop-in API: ``import controller as hub``)
from controller import __all__ as _controller_all
from controller.hub_shim.surface import client, hub, public_rest_api, util
from controller.hub_shim.surface.client import ClientConfig, Project, SourceModel
from controller.hub_shim.surface.hub import set_session_token

# The shim's own submit_compile_job replaces the star-imported one (a qnn_dlc target
# compiles a context binary): the same call, typed as the cloud client types it.
from controller.hub_shim.surface.hub import (  # type: ignore[assignment]
    submit_compile_job as submit_compile_job,
)

__all__ = list(_controller_all)
__all__ += [
    "ClientConfig",
    "Project",
    "SourceModel",
    "client",
    "hub",
    "public_rest_api",
    "set_session_token",
    "util",
]
