"""CRM values are text, never Markdown: hostile owner, team, channel and campaign names on every page.

A channel named ``![px](https://evil.example/pixel.png)`` reached ``st.markdown``
and captions through the selection sentence, so every viewer's browser fetched the
attacker's pixel. Here the demo company's names are replaced by such values, every
page is opened (and with the hostile values chosen in the URL's filters), and
every element that renders Markdown (text, captions, alerts, headings, metric and
widget labels, help) is rendered with a CommonMark + GFM-autolink renderer: no
link, image or HTML may point outside.
"""

from __future__ import annotations

import re
import shutil

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

import settings
from analytics import wording
from data.engine import make_engine
from pages.components import navigation

HOSTILE = {
    "image": "![px](https://evil.example/pixel.png)",
    "html": "<img src=https://evil.example/x>",
    "link": "[click](https://evil.example/l)",
    "autolink": "https://evil.example/bare",
    "directive": ":red[**shout**] $x$ https://evil.example/d",
}
# Element fields Streamlit renders as Markdown (the rest - options, table cells, chart specs - are plain text).
MARKDOWN_FIELDS = {"body", "label", "help", "delta", "caption", "content", "markdown"}
RENDER = MarkdownIt("commonmark")


def external_urls(markdown: str) -> list[str]:
    """The URLs a browser would fetch or link to when ``markdown`` is rendered (images, links, raw HTML)."""
    html = RENDER.render(markdown)
    tags = re.findall(r"<[a-z][^>]*>", html)  # real tags; escaped text shows as &lt;img ...
    found = [url for tag in tags for url in re.findall(r"""(?:src|href)=["']?([^"'\s>]+)""", tag)]
    found += [tag for tag in tags if tag.startswith("<img")]
    # GFM autolink literals (Streamlit renders them as links): a bare URL left unescaped in the source
    found += re.findall(r"(?:https?://|www\.)[^\s)\]]+", markdown)
    return [u for u in found if "evil.example" in u]


def markdown_texts(at: AppTest) -> list[tuple[str, str]]:
    """``(element type, text)`` of every Markdown-rendered field of every element of the last run."""
    out: list[tuple[str, str]] = []

    def strings(message, kind: str) -> None:
        for field, value in message.ListFields():
            if field.message_type is not None:
                for item in value if field.is_repeated else [value]:
                    strings(item, kind)
            elif field.name in MARKDOWN_FIELDS and field.type == field.TYPE_STRING:
                out.extend((kind, v) for v in (value if field.is_repeated else [value]))
            elif kind == "Radio" and field.name == "options":
                out.extend((kind, v) for v in value)

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            strings(proto, type(proto).__name__)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def assert_no_external_url(at: AppTest, where: str) -> None:
    for kind, markdown in markdown_texts(at):
        assert not external_urls(markdown), f"{where}: a {kind} renders {markdown!r} with a URL outside"


@pytest.fixture(scope="module")
def hostile_url(demo_db_url, tmp_path_factory) -> str:
    """The demo company with hostile names for a few owners, teams, channels, campaigns and reasons."""
    path = tmp_path_factory.mktemp("hostile-names") / "accord.db"
    shutil.copyfile(demo_db_url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    values = list(HOSTILE.values())
    with engine.begin() as conn:
        owners = conn.execute(text("SELECT id, team FROM owners ORDER BY id")).all()
        teams = sorted({t for _, t in owners if t})
        for i, (owner_id, _) in enumerate(owners[: len(values)]):
            conn.execute(text("UPDATE owners SET name = :n WHERE id = :i"), {"n": values[i], "i": owner_id})
        conn.execute(
            text("UPDATE owners SET team = :t WHERE team = :old"), {"t": HOSTILE["image"], "old": teams[0]}
        )
        channels = [
            r[0] for r in conn.execute(text("SELECT DISTINCT channel FROM leads WHERE channel IS NOT NULL"))
        ]
        for value, channel in zip(values, sorted(channels), strict=False):
            for table in ("leads", "deals"):
                conn.execute(
                    text(f"UPDATE {table} SET channel = :v WHERE channel = :c"), {"v": value, "c": channel}
                )  # noqa: S608
        conn.execute(text("UPDATE leads SET campaign = :v WHERE id % 3 = 0"), {"v": HOSTILE["link"]})
        conn.execute(text("UPDATE leads SET rejection_reason = :v WHERE rejection_reason IS NOT NULL AND id % 2 = 0"),
                     {"v": HOSTILE["html"]})  # fmt: skip
    engine.dispose()
    return url


def test_the_check_itself_sees_raw_values_and_passes_escaped_ones():
    for value in HOSTILE.values():
        assert external_urls(f"Leads from {value} this week"), value
        assert not external_urls(f"Leads from {wording.literal(value)} this week"), value


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"team": HOSTILE["image"]},
        {"channel": [HOSTILE["image"], HOSTILE["html"], HOSTILE["link"]]},
        {"as_of": HOSTILE["image"]},
        {"period": HOSTILE["html"], "agreement": HOSTILE["link"]},
    ],
    ids=["plain", "team", "channels", "as_of", "period"],
)
def test_no_page_renders_a_crm_or_url_value_as_markdown(hostile_url, monkeypatch, query):
    monkeypatch.setenv("ACCORD_DATABASE_URL", hostile_url)
    for spec in navigation.specs_for("admin"):
        at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=120)
        at.switch_page(spec.path)
        for name, value in query.items():
            at.query_params[name] = value
        at.run()
        assert not at.exception, (spec.path, at.exception)
        assert_no_external_url(at, f"{spec.path} {query}")
