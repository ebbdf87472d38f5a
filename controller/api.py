"""The public API as module functions, for scripts written against the cloud client.

    import controller as hub
    model = hub.upload_model("model.onnx")
    job = hub.submit_profile_job(model, hub.Device("Samsung Galaxy S23"),
                                 options="--max_profiler_iterations 50")
    profile = job.download_profile()
    profile["execution_summary"]["estimated_inference_time"]   # microseconds

Each function is the method of the same name of this process's default ``Lab``
(``controller/lab.py``), made on first use: the store it opens then (``DEVICELAB_STORE``,
else ``$DEVICELAB_HOME/store``), every device this host reaches, and a worker. A script
that wants another store, or two labs at once, makes its own ``Lab``.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from controller.devices import DeviceRegistry
from controller.lab import Lab
from controller.store import Store

_lock = threading.Lock()
_default: Lab | None = None

P = ParamSpec("P")
R = TypeVar("R")


def default_lab() -> Lab:
    """This process's default lab, which the module functions use (made on first use)."""
    global _default
    with _lock:
        if _default is None:
            _default = Lab()
        return _default


def current_store() -> Store:
    """The store this process's API calls use (opened on first use; see ``set_store``).

    For thin layers over the API (the CLI, ``devicelab serve``) that list or change what
    the API does not expose as objects: device states, transitions, a job's record.
    """
    return default_lab().store


def current_registry() -> DeviceRegistry:
    """The device registry this process's API calls use (for the same thin layers, and
    benchmarks that talk to a device's agent directly)."""
    return default_lab().registry


def set_store(location: str | Path | None) -> None:
    """Use the store at ``location`` from now on in this process (``Lab.set_store``).

    Example:
        hub.set_store("postgresql://lab@db-host/devicelab")
    """
    default_lab().set_store(location)


def _on_default_lab(method: Callable[Concatenate[Lab, P], R]) -> Callable[P, R]:
    """``method`` as a module function that calls it on the default lab (same docstring
    and signature, without ``self``, for ``help()`` and editors)."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return method(default_lab(), *args, **kwargs)

    signature = inspect.signature(method)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    del call.__wrapped__  # help() shows this signature, not the method's
    call.__module__, call.__qualname__ = __name__, method.__name__  # it lives here
    return call


get_dataset = _on_default_lab(Lab.get_dataset)
get_datasets = _on_default_lab(Lab.get_datasets)
get_device_attributes = _on_default_lab(Lab.get_device_attributes)
get_devices = _on_default_lab(Lab.get_devices)
get_frameworks = _on_default_lab(Lab.get_frameworks)
get_job = _on_default_lab(Lab.get_job)
get_job_summaries = _on_default_lab(Lab.get_job_summaries)
get_jobs = _on_default_lab(Lab.get_jobs)
get_model = _on_default_lab(Lab.get_model)
get_models = _on_default_lab(Lab.get_models)
set_verbose = _on_default_lab(Lab.set_verbose)
submit_compile_and_link_jobs = _on_default_lab(Lab.submit_compile_and_link_jobs)
submit_compile_and_profile_jobs = _on_default_lab(Lab.submit_compile_and_profile_jobs)
submit_compile_job = _on_default_lab(Lab.submit_compile_job)
submit_inference_job = _on_default_lab(Lab.submit_inference_job)
submit_link_job = _on_default_lab(Lab.submit_link_job)
submit_profile_job = _on_default_lab(Lab.submit_profile_job)
submit_quantize_job = _on_default_lab(Lab.submit_quantize_job)
upload_dataset = _on_default_lab(Lab.upload_dataset)
upload_model = _on_default_lab(Lab.upload_model)
wait_for_callbacks = _on_default_lab(Lab.wait_for_callbacks)


@atexit.register
def _close_default_lab() -> None:
    if _default is not None:  # hands its worker's running jobs back before agents close
        _default.close()
