"""The HTML report's inline stylesheet and script.

Kept inline (not linked) so the report is one file that opens offline, from a
CI artifact or an e-mail, with no external URL anywhere.
"""

from __future__ import annotations

CSS = """
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --panel:#fff; --bg:#f4f6fa;
        --accent:#2563eb; --warn-bg:#fff7e6; --warn-ink:#92400e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
header.top { background:#0f172a; color:#f8fafc; padding:24px 32px 20px; }
header.top h1 { margin:0 0 10px; font-size:22px; font-weight:650; word-break:break-word; }
.meta { display:flex; flex-wrap:wrap; gap:8px 18px; color:#cbd5e1; font-size:13px; }
.meta b { color:#f8fafc; font-weight:600; }
main { max-width:1240px; margin:0 auto; padding:24px 32px 48px; }
section.panel { background:var(--panel); border:1px solid var(--line); border-radius:10px;
                padding:18px 22px 20px; margin-bottom:20px; }
section.panel h2 { margin:0 0 4px; font-size:17px; font-weight:650; }
p.note { margin:0 0 14px; color:var(--muted); font-size:13px; }
p.partial, p.notice { margin:0 0 20px; padding:12px 16px; border:1px solid #fca5a5;
            border-radius:8px; background:#fef2f2; color:#7f1d1d; font-size:14px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(300px,1fr)); gap:14px; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px 14px; background:#fbfcfe; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:24px; font-weight:650; font-variant-numeric:tabular-nums; }
.card .sub { color:var(--muted); font-size:12.5px; font-variant-numeric:tabular-nums; }
.card.primary { border-color:#bfdbfe; background:#eff6ff; }
.two-col { display:grid; grid-template-columns:repeat(auto-fit,minmax(440px,1fr)); gap:18px; }
h3 { font-size:14px; margin:6px 0 6px; color:#334155; }
svg.chart { width:100%; height:auto; display:block; }
svg.unit-share { margin-bottom:10px; }
svg text { font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; fill:#334155; }
svg .bar-label { fill:var(--ink); }
svg .bar-value { fill:var(--ink); font-variant-numeric:tabular-nums; }
svg .muted, svg .tick { fill:var(--muted); }
svg .seg-label { fill:#fff; font-weight:600; }
svg .axis { stroke:#94a3b8; }
svg .grid { stroke:var(--line); }
svg .axis-title { fill:var(--muted); }
svg .hist-bin { fill:#60a5fa; stroke:#2563eb; stroke-width:.6; }
svg .marker { stroke:#e11d48; stroke-width:1.5; stroke-dasharray:5 4; }
svg .marker-label { fill:#be123c; font-weight:600; paint-order:stroke;
                    stroke:#fff; stroke-width:4px; stroke-linejoin:round; }
svg .series { fill:none; stroke:#2563eb; stroke-width:1.4; }
svg .point { fill:#2563eb; }
svg .layer-bar:hover rect { opacity:.8; }
.legend { display:flex; flex-wrap:wrap; gap:6px 16px; margin:2px 0 12px; font-size:13px; }
.swatch { display:inline-block; width:12px; height:12px; border-radius:3px;
          vertical-align:-1px; margin-right:6px; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left;
         vertical-align:top; }
th { background:#f8fafc; color:#334155; font-weight:600; position:sticky; top:0; }
table.compact { width:auto; min-width:min(100%,680px); }
table.compact { width:auto; min-width:min(100%,680px); }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.name { word-break:break-all; min-width:220px; }
#health-table td:first-child { white-space:nowrap; }
td code, p code { font-size:12px; }
tbody tr:nth-child(even) { background:#fbfcfe; }
tbody tr:hover { background:#f1f5f9; }
table.sortable th { cursor:pointer; user-select:none; }
table.sortable th::after { content:" \\2195"; color:#cbd5e1; }
table.sortable th[aria-sort=ascending]::after { content:" \\2191"; color:var(--accent); }
table.sortable th[aria-sort=descending]::after { content:" \\2193"; color:var(--accent); }
.share { display:flex; align-items:center; gap:8px; justify-content:flex-end; }
.share .track { width:70px; height:8px; background:#eef2f7; border-radius:4px; overflow:hidden; }
.share .fill { height:100%; border-radius:4px; }
.unit-tag { display:inline-block; padding:0 7px; border-radius:9px; color:#fff;
            font-size:11.5px; font-weight:600; }
.chip { display:inline-block; padding:1px 9px; margin:0 6px 4px 0; border-radius:10px;
        background:#e0ecff; color:#1e40af; font-size:12.5px; }
.alert { background:var(--warn-bg); color:var(--warn-ink); border:1px solid #fcd9a0;
         border-radius:8px; padding:8px 12px; margin:6px 0; font-size:13px; }
.empty { color:var(--muted); font-style:italic; margin:8px 0; }
.scroll { max-height:640px; overflow:auto; border:1px solid var(--line); border-radius:8px; }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:4px 18px; margin:0 0 12px; }
dl.kv dt { color:var(--muted); } dl.kv dd { margin:0; word-break:break-word; }
details { margin-top:10px; } summary { cursor:pointer; color:var(--accent); }
.up { color:#b91c1c; } .down { color:#047857; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 0 24px; }
"""

# Sorts a table.sortable by the clicked column, on each cell's data-v (numbers
# where the header says data-type="num"). Rows are in the page already: without
# JS the table still reads, sorted by time.
JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var numeric = th.getAttribute("data-type") === "num";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return asc ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
