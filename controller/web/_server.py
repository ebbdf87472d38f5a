"""``LabServer``: the lab's web page on the standard library's ``ThreadingHTTPServer``.

Why the standard library and not FastAPI + uvicorn: the page needs a dozen GET
routes, two POST actions without a body, a bearer token and static assets, over a
store whose calls are synchronous (FastAPI would run every handler in its thread
pool, as this server runs each request on a thread). FastAPI + uvicorn would add
starlette, pydantic (with its compiled core), anyio, h11 and click to an install
that was made light on purpose (pyproject.toml), for validation and OpenAPI
documents these routes do not use. What ``http.server``'s documentation warns of
(https://docs.python.org/3/library/http.server.html: "only implements basic
security checks") is answered here: loopback by default, a Host check against DNS
rebinding while on loopback, a socket timeout per request, no request body ever
read, no file served from disk, a CSP that runs only our own script, and state
changes only with the token. A lab that opens the page to its network puts it
behind its reverse proxy with TLS (a bearer token needs TLS anyway).

Routes (``ROUTES``): pages at ``/``, ``/jobs/ID``, ``/regress``...; the JSON
behind each at ``/api/...``; the live fragments at ``/live...``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import platform
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from controller.device_states import Released
from controller.errors import Error, UserError
from controller.job_handles import job_handle
from controller.web import _views as views
from controller.web._assets import CSS, JS
from controller.web._data import LabData

log = logging.getLogger("devicelab.web")

#: Seconds a connection may stay silent (a client that never finishes its request).
REQUEST_TIMEOUT_S = 30.0

# Our pages run our own script only; the report (self-contained, inline script and
# style, as ``devicelab report`` writes it) runs sandboxed in an opaque origin.
_PAGE_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
_REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; frame-ancestors 'self'; sandbox allow-scripts"
)
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def _html(markup: str, status: int = 200, csp: str = _PAGE_CSP) -> Response:
    return Response(status, markup.encode(), "text/html; charset=utf-8",
                    {"Content-Security-Policy": csp})  # fmt: skip


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(value, indent=1, default=str).encode()
    return Response(status, body, "application/json", headers or {})


class LabApp:
    """The routes over ``LabData``; ``token`` None makes every action refused (403)."""

    def __init__(self, data: LabData, token: str | None) -> None:
        self.data = data
        self._token = token.encode() if token else None

    @property
    def actions(self) -> bool:
        return self._token is not None

    def authorize(self, header: str | None) -> Response | None:
        """None when the bearer token is right; else the refusal (401 or 403)."""
        if self._token is None:
            return _json({"message": "this server is read-only (devicelab serve --token-file)"},
                         HTTPStatus.FORBIDDEN)  # fmt: skip
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return _json({"message": "this action needs 'Authorization: Bearer TOKEN'"},
                         HTTPStatus.UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})  # fmt: skip
        # Constant time: how long a refusal takes says nothing about the token.
        if not hmac.compare_digest(given.strip().encode(), self._token):
            return _json({"message": "wrong token"}, HTTPStatus.FORBIDDEN)
        return None

    # --- pages and their JSON ------------------------------------------------------------

    def overview(self) -> Response:
        return _html(views.overview_page(self.data.overview(), self.actions))

    def overview_live(self) -> Response:
        return _html(views.overview_live(self.data.overview(), self.actions))

    def overview_json(self) -> Response:
        return _json(self.data.overview())

    def job(self, job_id: str) -> Response:
        return _html(views.job_page(self.data.job(job_id), self.actions))

    def job_live(self, job_id: str) -> Response:
        return _html(views.job_live(self.data.job(job_id), self.actions))

    def job_json(self, job_id: str) -> Response:
        return _json(self.data.job(job_id))

    def report(self, job_id: str) -> Response:
        found = self.data.report_html(job_id)
        if found is None:
            return _html(views.error_page(404, f"job {job_id} has no report (yet)"), 404)
        return _html(found, csp=_REPORT_CSP)

    def regress(self) -> Response:
        return _html(views.regress_page(self.data.regress_runs()))

    def regress_json(self) -> Response:
        return _json(self.data.regress_runs())

    def regress_run(self, run_id: str) -> Response:
        return _html(views.regress_run_page(self.data.regress_run(run_id)))

    def regress_run_json(self, run_id: str) -> Response:
        return _json(self.data.regress_run(run_id))

    def regress_entry(self, entry: str) -> Response:
        return _html(views.regress_entry_page(self.data.regress_entry(entry)))

    def regress_entry_json(self, entry: str) -> Response:
        return _json(self.data.regress_entry(entry))

    def asset(self, name: str) -> Response:
        found = {"lab.css": (CSS, "text/css"), "lab.js": (JS, "text/javascript")}.get(name)
        if found is None:
            return _json({"message": f"no asset {name!r}"}, HTTPStatus.NOT_FOUND)
        return Response(200, found[0].encode(), f"{found[1]}; charset=utf-8")

    # --- actions (token) -----------------------------------------------------------------

    def cancel(self, job_id: str) -> Response:
        """Cancel a queued or running job, as ``devicelab cancel`` does."""
        store = self.data.store
        if job_handle(store, store.get_job(job_id)).cancel():
            log.info("job %s cancelled through the web page", job_id)
            return _json({"message": f"cancelled {job_id}", "job": job_id})
        return _json({"message": f"{job_id} had already ended", "job": job_id},
                     HTTPStatus.CONFLICT)  # fmt: skip

    def release(self, serial: str) -> Response:
        """Put a device the health machine holds off back to available."""
        status = self.data.store.device_event(serial, Released("the web page (token)"))
        if status is None:
            return _json({"message": f"{serial} is available already", "serial": serial})
        log.info("[%s] released through the web page: %s", serial, status.reason)
        return _json({"message": f"{serial}: {status.state.value}", "serial": serial,
                      "state": status.state.value, "reason": status.reason})  # fmt: skip


Handler = Callable[..., Response]
_ID = r"([^/]+)"
#: (method, path pattern, LabApp method name, needs the token)
ROUTES: list[tuple[str, re.Pattern[str], str, bool]] = [
    (method, re.compile(f"^{pattern}$"), name, token)
    for method, pattern, name, token in (
        ("GET", "/", "overview", False),
        ("GET", "/live", "overview_live", False),
        ("GET", "/api/lab", "overview_json", False),
        ("GET", f"/jobs/{_ID}", "job", False),
        ("GET", f"/jobs/{_ID}/report", "report", False),
        ("GET", f"/live/jobs/{_ID}", "job_live", False),
        ("GET", f"/api/jobs/{_ID}", "job_json", False),
        ("GET", "/regress", "regress", False),
        ("GET", "/api/regress/runs", "regress_json", False),
        ("GET", f"/regress/runs/{_ID}", "regress_run", False),
        ("GET", f"/api/regress/runs/{_ID}", "regress_run_json", False),
        ("GET", f"/regress/entries/{_ID}", "regress_entry", False),
        ("GET", f"/api/regress/entries/{_ID}", "regress_entry_json", False),
        ("GET", f"/assets/{_ID}", "asset", False),
        ("POST", f"/api/jobs/{_ID}/cancel", "cancel", True),
        ("POST", f"/api/devices/{_ID}/release", "release", True),
    )
]


def dispatch(app: LabApp, method: str, target: str, authorization: str | None) -> Response:
    """The response to one request (the HTTP layer only moves bytes)."""
    path = urlsplit(target).path
    for route_method, pattern, name, needs_token in ROUTES:
        matched = pattern.match(path)
        if matched is None or route_method != method:
            continue
        if needs_token and (refused := app.authorize(authorization)) is not None:
            return refused
        handler: Handler = getattr(app, name)
        return _guarded(handler, path, *(unquote(g) for g in matched.groups()))
    allowed = [m for m, pattern, _, _ in ROUTES if pattern.match(path)]
    if allowed:
        return _json({"message": f"{method} not allowed here"}, HTTPStatus.METHOD_NOT_ALLOWED,
                     {"Allow": ", ".join(sorted(set(allowed)))})  # fmt: skip
    return _not_found(path, f"no page at {path}")


def _guarded(handler: Handler, path: str, *args: str) -> Response:
    """Our errors as responses: an unknown id is a 404, the rest a 500 with the reason."""
    try:
        return handler(*args)
    except UserError as exc:
        return _not_found(path, str(exc))
    except Error as exc:
        log.warning("%s: %s", path, exc)
        return _json({"message": str(exc)}, HTTPStatus.INTERNAL_SERVER_ERROR)


def _not_found(path: str, message: str) -> Response:
    if path.startswith("/api/"):
        return _json({"message": message}, HTTPStatus.NOT_FOUND)
    return _html(views.error_page(404, message), HTTPStatus.NOT_FOUND)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT_S
    server_version = "devicelab"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def _answer(self, method: str) -> None:
        if not self.server.host_allowed(self.headers.get("Host", "")):
            response = _json({"message": "unexpected Host header"}, HTTPStatus.MISDIRECTED_REQUEST)
        else:
            try:
                response = dispatch(self.server.app, method, self.path,
                                    self.headers.get("Authorization"))  # fmt: skip
            except Exception:  # a bug of ours: say so, keep serving
                log.exception("%s %s failed", method, self.path)
                response = _json({"message": "internal error"}, 500)
        self.send_response(response.status)
        headers = {"Content-Type": response.content_type,
                   "Content-Length": str(len(response.body)), "Cache-Control": "no-store",
                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                   **response.headers}  # fmt: skip
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow client never holds the server's exit

    def __init__(self, address: tuple[str, int], app: LabApp) -> None:
        super().__init__(address, _RequestHandler)
        self.app = app
        self.loopback = _is_loopback(address[0])

    def host_allowed(self, host_header: str) -> bool:
        """On loopback, only loopback names: a web page elsewhere whose name resolves
        to 127.0.0.1 (DNS rebinding) must not read the lab through a person's browser."""
        if not self.loopback:
            return True
        name = host_header.rsplit(":", 1)[0] if not host_header.startswith("[") else (
            host_header[1:].split("]", 1)[0])  # fmt: skip
        return name.lower() in _LOOPBACK_NAMES


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LabServer:
    """The web page's server; ``start()`` serves on a thread, ``serve_forever()`` here.

    Example:
        server = LabServer(LabData(store, None, platform.node()), port=0).start()
        print(server.url)    # http://127.0.0.1:PORT
        server.stop()
    """

    def __init__(
        self, data: LabData, host: str = "127.0.0.1", port: int = 0, token: str | None = None
    ) -> None:
        self._server = _Server((host, port), LabApp(data, token))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT``; on every address (``--host 0.0.0.0``), this host's name."""
        address = self._server.server_address
        host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
        if host in ("0.0.0.0", "::"):
            host = platform.node() or host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{address[1]}"

    def start(self) -> LabServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="devicelab-web", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


def read_token(path: Path) -> str:
    """The token in ``path`` (surrounding whitespace dropped).

    Raises:
        UserError: the file cannot be read or holds no token.
    """
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--token-file {path}: cannot read it: {exc}") from exc
    if not token or any(c.isspace() for c in token):
        raise UserError(f"--token-file {path}: expected one token without spaces")
    return token
