"""The pages as HTML, built from ``_data``'s dicts; every value goes through ``esc``.

A cell is HTML made here by ``text`` (escaped), ``link`` or ``badge``, never a raw
value: model, job and layer names are user data (as in ``controller/reports``).
The live parts (``overview_live``, ``job_live``) are fragments the page's script
fetches again and swaps in, so the first paint and every refresh share one renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from controller.regress.charts import trend
from controller.reports._format import esc, fmt_us

#: Milliseconds between two refreshes of a live page.
REFRESH_MS = 2000


def text(value: Any) -> str:
    """A value as escaped text; None as an empty cell."""
    return "" if value is None else esc(value)


def when(iso_time: str | None) -> str:
    """An ISO 8601 UTC time from ``_data`` as a person reads it: ``2026-11-30 11:46:35``."""
    return text(iso_time.replace("T", " ").removesuffix("+00:00") if iso_time else None)


def link(href: str, label: Any) -> str:
    return f'<a href="{esc(href)}">{text(label)}</a>'


def badge(state: Any) -> str:
    slug = str(state).replace(" ", "-")
    return f'<span class="state state-{esc(slug)}">{text(state)}</span>'


def path_part(value: str) -> str:
    """One URL path segment (entry names and serials may hold any character)."""
    return quote(value, safe="")


def table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    """A table of cells already made HTML by ``text``/``link``/``badge``."""
    if not rows:
        return f'<p class="empty" id="{esc(table_id)}-empty">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<table id="{esc(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def page(title: str, body: str, *, subtitle: str = "") -> str:
    """A whole page: header with the lab's navigation, the body, the shared assets."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)}</title><link rel="stylesheet" href="/assets/lab.css">'
        '<script src="/assets/lab.js" defer></script></head><body>'
        '<header class="top"><nav class="top"><a class="brand" href="/">devicelab</a>'
        '<a href="/">Lab</a><a href="/regress">Regression history</a></nav>'
        f'<h1>{esc(title)}</h1><div class="meta">{esc(subtitle)}</div></header>'
        f'<main><p id="action-result" class="notice"></p>{body}</main></body></html>'
    )


def panel(title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{esc(note)}</p>' if note else ""
    return f'<section class="panel"><h2>{esc(title)}</h2>{note_html}{body}</section>'


def _live(src: str, fragment: str) -> str:
    return f'<div id="live" data-src="{esc(src)}" data-every-ms="{REFRESH_MS}">{fragment}</div>'


def error_page(status: int, message: str) -> str:
    return page(f"{status}", panel("Not shown", f"<p>{text(message)}</p>"))


# --- the overview ---------------------------------------------------------------------------


def overview_page(lab: dict[str, Any], actions: bool) -> str:
    """The lab: devices with health, running jobs, the queue, the latest finished jobs."""
    how = "read-only" if not actions else "actions need the token"
    subtitle = f"store {lab['store']} · refreshed every {REFRESH_MS // 1000} s · {how}"
    return page("Lab", _live("/live", overview_live(lab, actions)), subtitle=subtitle)


def overview_live(lab: dict[str, Any], actions: bool) -> str:
    """The overview's live part (``GET /live``)."""
    return (
        f'<p class="stamp" id="stamp">as of {when(lab["generated_at"])} UTC</p>'
        + panel("Devices", _devices(lab["devices"], actions), _hosts_note(lab["hosts"]))
        + panel("Running", _jobs("running-jobs", lab["running"], "started_at"), "")
        + panel("Queue", _jobs("queued-jobs", lab["queued"], "created_at"), "")
        + panel("Recently finished", _jobs("recent-jobs", lab["recent"], "finished_at"), "")
    )


def _hosts_note(hosts: list[dict[str, Any]]) -> str:
    named = [f"{h['name'] or 'unknown host'} ({h['devices']})" for h in hosts]
    return "hosts: " + ", ".join(named)


def _devices(devices: list[dict[str, Any]], actions: bool) -> str:
    headers = ["Device", "Serial", "Host", "State", "Reason", "Battery", "Temperature",
               "Read at", "Job"]  # fmt: skip
    rows = []
    for d in devices:
        name = text(d["name"])
        state = badge(d["state"])
        if actions and d["state"] != "available":
            action = f"/api/devices/{path_part(d['serial'])}/release"
            state += f' <button class="action" data-action="{esc(action)}">release</button>'
        rows.append([
            name, text(d["serial"]), text(d["host"]), state,
            f'<span class="reason">{text(d["reason"])}</span>',
            text(f"{d['battery_pct']} %" if d["battery_pct"] is not None else ""),
            text(f"{d['temperature_c']:.1f} °C" if d["temperature_c"] is not None else ""),
            when(d["health_at"]),
            link(f"/jobs/{path_part(d['job'])}", d["job"]) if d["job"] else "",
        ])  # fmt: skip
    return table("devices", headers, rows, "No device known.")


def _jobs(table_id: str, jobs: list[dict[str, Any]], time_key: str) -> str:
    moment = time_key.removesuffix("_at").capitalize()
    headers = ["Job", "Name", "Kind", "State", "Device", "Host", "Submitter", moment]
    rows = [
        [link(j["page"], j["id"]), text(j["name"]), text(j["kind"]), badge(j["state"]),
         text(j["device"]), text(j["host"]), text(j["submitter"]), when(j[time_key])]
        for j in jobs
    ]  # fmt: skip
    return table(table_id, headers, rows, "None.")


# --- one job --------------------------------------------------------------------------------


def job_page(job: dict[str, Any], actions: bool) -> str:
    """A job: status, what it ran, events (live while it runs), and its report."""
    live = _live(f"/live/jobs/{path_part(job['id'])}", job_live(job, actions))
    report = ""
    if job["report"]:
        src = f"/jobs/{path_part(job['id'])}/report"
        report = panel(
            "Report",
            f'<p><a href="{esc(src)}">open the report on its own</a></p>'
            f'<iframe class="report" sandbox="allow-scripts" src="{esc(src)}"'
            f' title="report"></iframe>',
        )
    return page(f"Job {job['id']}", live + report, subtitle=f"{job['kind']} · {job['name']}")


def job_live(job: dict[str, Any], actions: bool) -> str:
    """The job page's live part (``GET /live/jobs/ID``); final once the job ended."""
    final = " data-final" if job["finished_at"] else ""
    state = badge(job["state"])
    if actions and not job["finished_at"]:
        action = f"/api/jobs/{path_part(job['id'])}/cancel"
        state += f' <button class="action" data-action="{esc(action)}">cancel</button>'
    facts = [
        ("State", state),
        ("Message", text(job["message"])),
        ("Name", text(job["name"])),
        ("Model", f"{text(job['model']['name'])} ({text(job['model']['id'])}, "
                  f"{text(job['model']['type'])})"),
        ("Options", f"<code>{text(job['options'])}</code>"),
        ("Device", text(job["device"])),
        ("Host", text(job["host"])),
        ("Worker", text(job["worker"])),
        ("Submitter", text(job["submitter"])),
        ("Attempt", text(job["attempt"])),
        ("Created", when(job["created_at"])),
        ("Started", when(job["started_at"])),
        ("Finished", when(job["finished_at"])),
        ("Depends on", link(f"/jobs/{path_part(job['parent'])}", job["parent"])
         if job["parent"] else ""),
    ]  # fmt: skip
    status = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts)
    retries = [[text(r.get("device")), text(r.get("reason")), text(r.get("at"))]
               for r in job["retries"]]  # fmt: skip
    return (
        f'<div id="job-status"{final}>'
        + panel("Status", f'<table id="job-facts" class="compact">{status}</table>')
        + (
            panel("Retries", table("retries", ["Device", "Reason", "At"], retries, ""))
            if retries
            else ""
        )  # fmt: skip
        + panel("Events", _events(job), _events_note(job))
        + "</div>"
    )


def _events_note(job: dict[str, Any]) -> str:
    shown, total = len(job["events"]), job["events_total"]
    return f"the latest attempt's events: {total}" + (
        f", the last {shown} shown" if shown < total else ""
    )


def _events(job: dict[str, Any]) -> str:
    rows = [[text(e["seq"]), when(e["at"]), text(e["kind"]), text(e["bytes"]),
             f"<code>{text(e['text'])}</code>"] for e in job["events"]]  # fmt: skip
    return table("events", ["Seq", "At", "Kind", "Bytes", "Payload"], rows, "No events yet.")


# --- regression history ---------------------------------------------------------------------


def _verdicts(counts: dict[str, int]) -> str:
    return " ".join(f"{badge(v)} {text(n)}" for v, n in sorted(counts.items()))


def regress_page(runs: list[dict[str, Any]]) -> str:
    """Suite runs, newest first."""
    rows = [
        [link(f"/regress/runs/{path_part(r['run_id'])}", r["run_id"]), text(r["suite"]),
         badge(r["outcome"]), _verdicts(r["verdicts"]), when(r["started_at"])]
        for r in runs
    ]  # fmt: skip
    body = table("regress-runs", ["Run", "Suite", "Outcome", "Verdicts", "Started"], rows,
                 "No regression run stored yet (devicelab regress run SUITE).")  # fmt: skip
    return page("Regression history", panel("Suite runs", body))


def regress_run_page(run: dict[str, Any]) -> str:
    """One suite run: a row per entry x device, each entry linked to its history."""
    rows = [
        [link(f"/regress/entries/{path_part(r['entry'])}", r["entry"]), text(r["device_name"]),
         badge(r["verdict"]), _us(r["baseline_median_us"]), _us(r["candidate_median_us"]),
         text(f"{r['ratio']:.3f}" if r["ratio"] is not None else ""), text(r["baseline"]),
         text("; ".join(r["notes"]))]
        for r in run["results"]
    ]  # fmt: skip
    headers = ["Entry", "Device", "Verdict", "Baseline", "Candidate", "Ratio", "Against", "Notes"]
    body = table("regress-results", headers, rows, "This run stored no result.")
    subtitle = f"suite {run['suite']} · outcome {run['outcome']}"
    return page(f"Regression run {run['run_id']}", panel("Results", body), subtitle=subtitle)


def regress_entry_page(history: dict[str, Any]) -> str:
    """An entry's nightly series per device, with change points."""
    sections = [panel("Note", f"<p>{text(history['note'])}</p>")] if history["note"] else []
    for device in history["devices"]:
        steps = [s["index"] for s in device["steps"]]
        rows = [
            [link(f"/regress/runs/{path_part(p['run_id'])}", p["run_id"]), when(p["created_at"]),
             badge(p["verdict"]), _us(p["candidate_median_us"]),
             text("step starts here" if i in steps else "")]
            for i, p in enumerate(device["points"])
        ]  # fmt: skip
        chart = f'<div class="trend">{trend(device["points"], steps)}</div>'
        body = chart + table(
            "regress-points", ["Run", "At", "Verdict", "Median", "Change point"], rows, ""
        )
        sections.append(panel(f"{device['device_name']} ({device['device_serial']})", body))
    if not history["devices"]:
        sections.append(panel("No history", "<p>No stored run has this entry.</p>"))
    return page(f"Entry {history['entry']}", "".join(sections), subtitle="regression history")


def _us(value: Any) -> str:
    return text(fmt_us(float(value)) if value is not None else "")
