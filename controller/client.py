"""``Client``: the module functions as methods, for scripts that write ``hub.Client()``.

    client = hub.Client()
    model = client.upload_model("model.onnx")
    job = client.submit_profile_job(model, hub.Device("Samsung Galaxy S23"))

Each method is the module function of the same name (``client.get_job`` is ``hub.get_job``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller import api


@dataclass(frozen=True)
class ClientConfig:
    """What a client is connected to, as the cloud client's ``ClientConfig``.

    ``api_url`` is the store's ``file://`` URL (scripts key caches on it, e.g.
    qai-hub-models' framework list); there is no token or web service.
    """

    api_token: str = ""
    api_url: str = ""
    web_url: str = ""
    verbose: bool = False
    client_mode: str = "library"
    default_project: str | None = None


class Client:
    """The public API as methods; each one is the module function of the same name.

    Every ``Client`` shares the store (``$DEVICELAB_HOME/store``) and the device registry
    of this process's default ``Lab``, as the module functions do: it holds no state.
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
    def config(self) -> ClientConfig:
        """The store this client works on (``api_url``: its ``file://`` URL)."""
        url = api.current_store().root.resolve().as_uri()
        return ClientConfig(api_url=url, web_url=url, verbose=self.verbose)

    @property
    def verbose(self) -> bool:
        """Whether API calls print progress (``set_verbose``)."""
        return api.default_lab().verbose

    get_dataset = staticmethod(api.get_dataset)
    get_datasets = staticmethod(api.get_datasets)
    get_device_attributes = staticmethod(api.get_device_attributes)
    get_devices = staticmethod(api.get_devices)
    get_frameworks = staticmethod(api.get_frameworks)
    get_job = staticmethod(api.get_job)
    get_job_summaries = staticmethod(api.get_job_summaries)
    get_jobs = staticmethod(api.get_jobs)
    get_model = staticmethod(api.get_model)
    get_models = staticmethod(api.get_models)
    set_verbose = staticmethod(api.set_verbose)
    submit_compile_and_link_jobs = staticmethod(api.submit_compile_and_link_jobs)
    submit_compile_and_profile_jobs = staticmethod(api.submit_compile_and_profile_jobs)
    submit_compile_job = staticmethod(api.submit_compile_job)
    submit_inference_job = staticmethod(api.submit_inference_job)
    submit_link_job = staticmethod(api.submit_link_job)
    submit_profile_job = staticmethod(api.submit_profile_job)
    submit_quantize_job = staticmethod(api.submit_quantize_job)
    upload_dataset = staticmethod(api.upload_dataset)
    upload_model = staticmethod(api.upload_model)
