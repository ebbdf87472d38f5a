"""``Client``: the module functions as methods, for scripts that write ``hub.Client()``.

    client = hub.Client()
    model = client.upload_model("model.onnx")
    job = client.submit_profile_job(model, hub.Device("Samsung Galaxy S23"))

Each method is the module function of the same name (``client.get_job`` is ``hub.get_job``).
"""

from __future__ import annotations

from typing import Any

from controller import api, frameworks, job_summaries, quantize_jobs


class Client:
    """The public API as methods; each one is the module function of the same name.

    Every ``Client`` shares the one store (``$DEVICELAB_HOME/store``) and the device
    registry of this process, as the module functions do, so a client holds no state.
    The cloud client's constructor arguments are accepted and ignored: ``config``
    (there is no service, URL or token), ``profile`` (no ``~/.qai_hub`` profiles),
    ``default_project_id`` (no projects) and ``client_mode``.
    """

    def __init__(
        self,
        config: Any = None,
        profile: str | None = None,
        default_project_id: str | None = None,
        client_mode: str = "library",
    ) -> None:
        # Nothing to keep: see the class docstring for why each argument is ignored.
        del config, profile, default_project_id, client_mode

    @property
    def verbose(self) -> bool:
        """Whether API calls print progress (``set_verbose``)."""
        return bool(api._verbose)  # read at call time: set_verbose rebinds it

    get_dataset = staticmethod(api.get_dataset)
    get_datasets = staticmethod(api.get_datasets)
    get_device_attributes = staticmethod(api.get_device_attributes)
    get_devices = staticmethod(api.get_devices)
    get_frameworks = staticmethod(frameworks.get_frameworks)
    get_job = staticmethod(api.get_job)
    get_job_summaries = staticmethod(job_summaries.get_job_summaries)
    get_jobs = staticmethod(api.get_jobs)
    get_model = staticmethod(api.get_model)
    get_models = staticmethod(api.get_models)
    set_verbose = staticmethod(api.set_verbose)
    submit_compile_and_profile_jobs = staticmethod(api.submit_compile_and_profile_jobs)
    submit_compile_job = staticmethod(api.submit_compile_job)
    submit_inference_job = staticmethod(api.submit_inference_job)
    submit_profile_job = staticmethod(api.submit_profile_job)
    submit_quantize_job = staticmethod(quantize_jobs.submit_quantize_job)
    upload_dataset = staticmethod(api.upload_dataset)
    upload_model = staticmethod(api.upload_model)
