"""``import qai_hub`` resolving to devicelab, inside one run only (opt-in).

Programs written for the cloud client (Qualcomm's ``qai-hub-models`` imports
``qai_hub`` hundreds of times, and ``qai_hub.client``, ``qai_hub.public_rest_api``,
``qai_hub.hub``, ``qai_hub.util.dataset_entries_converters``) run unmodified against
devicelab when the ``qai_hub`` names are served from ``controller.hub_shim.surface``.
Nothing named ``qai_hub`` is installed: a ``sys.meta_path`` finder answers for those
names while it is active, so a real ``qai_hub`` installed beside devicelab is what
every other process (and this one, after ``deactivate``) imports.

    from controller import hub_shim
    with hub_shim.as_qai_hub():
        import qai_hub as hub          # devicelab
        hub.submit_profile_job(...)

``devicelab run [-m module | script] ARGS...`` (``controller/cli/run.py``) runs a whole
program that way.
"""

from controller.hub_shim._finder import activate, active, as_qai_hub, deactivate

__all__ = ["activate", "active", "as_qai_hub", "deactivate"]
