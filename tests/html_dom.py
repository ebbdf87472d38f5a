"""An HTML page as the tests read it: its start tags, its text, its tables' cells.

The HTML report (``tests/test_reports.py``) and the web page (``tests/test_web.py``) are
read with it, from a file or from the DOM a headless browser printed.
"""

from __future__ import annotations

from html.parser import HTMLParser


class Dom(HTMLParser):
    """Start tags with attributes, and each table's rows as cell texts (by table id)."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self._table = attributes.get("id") or ""
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table_id: str) -> list[list[str]]:
        """The body rows (the header row dropped)."""
        return self.tables.get(table_id, [])[1:]

    def attrs(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        """The attributes of each ``tag`` start tag that has all the ``wanted`` values."""
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in wanted.items())
        ]

    @property
    def layer_rows(self) -> list[list[str]]:
        """The body rows of the report's layer table."""
        return self.rows("layer-table")

    def count(self, tag: str, **wanted: str) -> int:
        """How many ``tag`` start tags have all the ``wanted`` attribute values."""
        return len(self.attrs(tag, **wanted))

    def attrs_of(self, tag: str) -> list[dict[str, str | None]]:
        """The attributes of every ``tag`` start tag."""
        return self.attrs(tag)

    def pwned(self) -> bool:
        """Whether an injected script marked the page's body (the XSS tests' canary)."""
        return any("data-pwned" in attrs for attrs in self.attrs("body"))
