"""Reports of a profile result that a person opens: an HTML page and a Chrome trace.

    from controller.reports import write_chrome_trace, write_html_report
    result = job.download_profile()
    write_html_report(result, Path("report.html"))        # one self-contained file
    write_chrome_trace(result, Path("report.trace.json"))  # open in Perfetto

Both read only the result dict (``controller.results``), so a result saved as
JSON, or one from the cloud service, renders the same way.
"""

from controller.reports.html import render_html, write_html_report
from controller.reports.trace import chrome_trace, write_chrome_trace

__all__ = ["chrome_trace", "render_html", "write_chrome_trace", "write_html_report"]
