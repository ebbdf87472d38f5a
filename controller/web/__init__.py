"""The lab's web page (``devicelab serve``): devices and their health, the queue and
running jobs live, each job's page with its report, the regression history.

    from controller.web import LabData, LabServer
    server = LabServer(LabData(store, None, platform.node()), port=0).start()
    server.url          # http://127.0.0.1:PORT; server.stop() when done

Read-only unless started with a token; ``_server.py`` says why the standard
library serves it.
"""

from controller.web._address import (
    WEB_URL_ENV,
    announce,
    job_page_url,
    served_url,
    withdraw,
)
from controller.web._data import LabData
from controller.web._server import ROUTES, LabApp, LabServer, dispatch, read_token

__all__ = [
    "ROUTES",
    "WEB_URL_ENV",
    "LabApp",
    "LabData",
    "LabServer",
    "announce",
    "dispatch",
    "job_page_url",
    "read_token",
    "served_url",
    "withdraw",
]
