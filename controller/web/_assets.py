"""The page's stylesheet and its one script, served from ``/assets/``.

Served as files, not inline, so the pages' Content-Security-Policy can say
``script-src 'self'``: no script written into a page runs, even if a value
escaped wrongly. The report's look (``controller/reports/_assets.py``) is the base.
"""

from __future__ import annotations

from controller.reports._assets import CSS as REPORT_CSS

CSS = (
    REPORT_CSS
    + """
nav.top { display:flex; gap:18px; align-items:baseline; }
nav.top a { color:#cbd5e1; text-decoration:none; font-size:14px; }
nav.top a:hover { color:#fff; }
nav.top .brand { color:#fff; font-weight:650; font-size:16px; }
.state { display:inline-block; padding:0 8px; border-radius:9px; font-size:12px;
         background:#e2e8f0; color:#0f172a; white-space:nowrap; }
.state-available, .state-success, .state-same { background:#dcfce7; color:#14532d; }
.state-failed, .state-quarantined, .state-regression, .state-error
  { background:#fee2e2; color:#7f1d1d; }
.state-suspect, .state-recovering, .state-resting, .state-unknown
  { background:#fef3c7; color:#78350f; }
.state-offline { background:#e2e8f0; color:#475569; }
.state-created { background:#e0e7ff; color:#312e81; }
.state-improvement { background:#d1fae5; color:#065f46; }
td.reason { color:#475569; max-width:420px; word-break:break-word; }
.stamp { color:var(--muted); font-size:12.5px; }
button.action { border:1px solid #cbd5e1; background:#fff; border-radius:6px; padding:2px 10px;
                cursor:pointer; font-size:12.5px; }
button.action:hover { border-color:#2563eb; color:#2563eb; }
#action-result:empty { display:none; }
div.trend { max-width:640px; margin-bottom:12px; }
iframe.report { width:100%; height:1400px; border:1px solid var(--line); border-radius:8px;
                background:#fff; }
"""
)

# Polls the fragment behind #live (a server-rendered, escaped piece of the page) and
# swaps it in: one renderer for the first paint and every refresh. Polling stops once
# the fragment says it is final (a finished job). Actions ask for the token once per tab.
JS = """
"use strict";
(function () {
  const live = document.getElementById("live");
  if (live && live.dataset.src) {
    const every = Number(live.dataset.everyMs || 2000);
    let refreshed = 0;
    const refresh = async function () {
      try {
        const response = await fetch(live.dataset.src, {cache: "no-store"});
        if (response.ok) {
          live.innerHTML = await response.text();
          refreshed += 1;
          live.dataset.refreshed = String(refreshed);
          delete live.dataset.error;
        } else {
          live.dataset.error = String(response.status);
        }
      } catch (error) {
        live.dataset.error = String(error);
      }
      if (!live.querySelector("[data-final]")) setTimeout(refresh, every);
    };
    if (!live.querySelector("[data-final]")) setTimeout(refresh, every);
  }
  const KEY = "devicelab-token";
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const token = sessionStorage.getItem(KEY) ||
      window.prompt("Token (devicelab serve --token-file)");
    if (!token) return;
    const response = await fetch(button.dataset.action,
      {method: "POST", headers: {"Authorization": "Bearer " + token}});
    if (response.status === 401 || response.status === 403) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, token);
    const said = document.getElementById("action-result");
    let message = response.statusText;
    try { message = (await response.json()).message || message; } catch (error) {}
    if (said) said.textContent = message;
    if (response.ok) window.location.reload();
  });
})();
"""
