"""The weekly meeting pack: a PDF with one overview page and one page per side, charts included.

Page 1 says where every commitment of both sides stands this week and in the
period to date, what changed since last week, the three biggest gaps and any
correction of a frozen week. Then one page per party (marketing, sales) with
its commitments in detail and each commitment's last weeks as a chart (plotly,
rendered to PNG by kaleido in the Debian Chromium; the PDF is built with
reportlab). The numbers are those of :func:`analytics.snapshots.week_overview`,
so the pack shows what the Overview page shows, frozen weeks as frozen.

Without a browser the pack is still written, without charts, and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy.engine import Engine

from analytics import wording
from analytics.agreement import Agreement
from analytics.charts import STATUS_COLORS, STATUS_LABELS, trend_chart
from analytics.commitments import document_in_force
from analytics.snapshots import TREND_WEEKS, WeekOverview
from analytics.wording import commitment_title, format_change, week_dates
from analytics.wording import period_name as period_title
from errors import AccordError
from reports.weeks import load_view, versions_of
from views.overview import week_grid

Progress = Callable[..., None]
CHROMIUM = "/usr/bin/chromium"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PAGE = landscape(A4)
MARGIN = 14 * mm
CHART_PX = (620, 440)
MAX_CORRECTIONS = 6


class ChartRenderError(AccordError, RuntimeError):
    """The charts could not be drawn (no Chromium for kaleido); the message says what to install."""


# ----------------------------------------------------------------------------- charts


def trend_figures(overview: WeekOverview, party: str, currency: str | None = None) -> list[go.Figure]:
    """One chart per commitment of ``party``: its actual per week (status colours) against the week's target."""
    rows = overview.trend[overview.trend["party"] == party]
    figures = []
    for commitment, group in rows.groupby("commitment", sort=False):
        fig = trend_chart(group, title=f"{commitment_title(commitment)} per week", currency=currency)
        weeks = group["period"].tolist()
        fig.update_layout(
            font={"size": 14}, title={"font": {"size": 18}}, margin={"l": 70, "r": 20, "t": 80, "b": 60},
            xaxis={"type": "category", "title": {"text": "ISO week"}, "tickvals": weeks,
                   "ticktext": [w.split("-")[-1] for w in weeks]},
        )  # fmt: skip
        figures.append(fig)
    return figures


class ChartSession:
    """A kaleido browser (Debian Chromium) for drawing figures as PNG; a context manager.

    Starting the browser and loading plotly.js into it take seconds, most of
    the time a pack's charts cost: the session starts in a thread of its own as
    soon as it is made, so a caller that opens it before reading the data gets
    both done at once (the browser is another process). :meth:`render` raises
    :class:`ChartRenderError` when no Chromium can be started.
    """

    def __init__(self, tabs: int = 2) -> None:
        if "BROWSER_PATH" not in os.environ and shutil.which(CHROMIUM):
            os.environ["BROWSER_PATH"] = CHROMIUM
        self._loop = asyncio.new_event_loop()
        # A thread of its own: the caller (a Streamlit script, a CLI) may already run an event loop.
        self._thread = threading.Thread(target=self._loop.run_forever, name="accord-charts", daemon=True)
        self._thread.start()
        self._opened = asyncio.run_coroutine_threadsafe(self._open(tabs), self._loop)

    @staticmethod
    async def _open(tabs: int):
        import kaleido

        session = kaleido.Kaleido(n=tabs, mathjax=False)
        try:
            await session.open()
        except BaseException:
            with contextlib.suppress(Exception):
                await session.close()
            raise
        return session

    def _session(self):
        from choreographer.errors import BrowserFailedError, ChromeNotFoundError

        try:
            return self._opened.result()
        except (ChromeNotFoundError, BrowserFailedError) as exc:
            raise ChartRenderError(
                f"charts need Chromium for kaleido ({exc.__class__.__name__}); install it (apt-get install "
                "chromium) or set BROWSER_PATH to a Chrome or Chromium binary"
            ) from exc

    def render(
        self, figures: Sequence[go.Figure], width: int = CHART_PX[0], height: int = CHART_PX[1]
    ) -> list[bytes]:
        """Return each figure as PNG bytes (2x scale), in order; drawn on the session's tabs at once."""
        if not figures:
            return []
        session = self._session()
        opts = {"format": "png", "width": width, "height": height, "scale": 2}

        async def draw() -> list[bytes]:
            return list(await asyncio.gather(*(session.calc_fig(fig, opts=opts) for fig in figures)))

        return asyncio.run_coroutine_threadsafe(draw(), self._loop).result()

    def close(self) -> None:
        """Close the browser (once it has started: cancelling a start could leave Chromium running) and the thread."""
        with contextlib.suppress(Exception):
            browser = self._opened.result(timeout=120)
            asyncio.run_coroutine_threadsafe(browser.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> ChartSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def render_pngs(
    figures: Sequence[go.Figure],
    width: int = CHART_PX[0],
    height: int = CHART_PX[1],
    session: ChartSession | None = None,
) -> list[bytes]:
    """Return each figure as PNG bytes (2x scale), drawn in ``session`` or in one Chromium session of their own.

    Raises :class:`ChartRenderError` when no Chromium can be started.
    """
    if not figures:
        return []
    if session is not None:
        return session.render(figures, width, height)
    with ChartSession() as own:
        return own.render(figures, width, height)


# ----------------------------------------------------------------------------- the PDF


def _fonts() -> tuple[str, str]:
    """DejaVu Sans when installed (it has every glyph the pack uses), else Helvetica."""
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=12, alignment=TA_LEFT)
    return {
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=17, leading=21, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10, leading=13, textColor=colors.HexColor("#4b5563")),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#4b5563")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=10.5),
        "head": ParagraphStyle("head", parent=base, fontName=bold, fontSize=8.5, leading=10.5),
    }  # fmt: skip


def _tint(hex_color: str, amount: float = 0.25) -> colors.Color:
    """The status colour mixed with white, for a cell background that keeps text readable."""
    c = colors.HexColor(hex_color)
    return colors.Color(1 - (1 - c.red) * amount, 1 - (1 - c.green) * amount, 1 - (1 - c.blue) * amount)


def _status_cell(status: str, styles) -> Paragraph:
    color = STATUS_COLORS.get(status, STATUS_COLORS["no data"])
    return Paragraph(f'<font color="{color}">●</font> {STATUS_LABELS.get(status, status)}', styles["cell"])


def _xml(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _scoreboard(overview: WeekOverview, rows: pd.DataFrame, styles, currency, *, detail: bool) -> Table:
    """The table of commitments: this week, last week, the period to date (with projection on side pages)."""
    week, prev = overview.week, overview.previous_week
    period_rows = overview.period_rows().set_index("commitment")
    changes = overview.changes.set_index("commitment")
    period = period_rows["period"].iloc[0] if len(period_rows) else ""
    head = ["Side", "Commitment", f"{week}", "Target", "Status", f"vs {prev}",
            f"{period_title(period)} to date", "Target", "Status"]  # fmt: skip
    if detail:
        head = ["Commitment", f"{week}", "Target", "Status", f"{prev}", "Change",
                f"{period_title(period)} to date", "Projection", "Target", "Status"]  # fmt: skip
    data = [[Paragraph(_xml(h), styles["head"]) for h in head]]
    backgrounds = []
    for i, row in enumerate(rows.to_dict("records"), start=1):
        kind, unit, cid = row["kind"], row["unit"], row["commitment"]
        p = period_rows.loc[cid] if cid in period_rows.index else None
        ch = changes.loc[cid] if cid in changes.index else None
        value = wording.format_value(ch["value"] if ch is not None else row["actual"], kind, unit, currency,
                             beside=row["target"], compact=True)  # fmt: skip
        if ch is not None and bool(ch["projected"]):
            value = (
                f"{wording.format_value(row['actual'], kind, unit, currency, compact=True)} (pace {value})"
            )
        if kind == "rate" and row["pending"] and row["pending"] > 0:
            value += f" ({row['pending']:,.0f} pending)"
        change = format_change(ch["change"], kind, unit, currency) if ch is not None else ""
        previous = (
            wording.format_value(ch["previous"], kind, unit, currency, compact=True)
            if ch is not None
            else "–"
        )
        p_status = p["status"] if p is not None else "no data"
        p_value = (
            wording.format_value(p["actual"], kind, unit, currency, compact=True, beside=p["target"])
            if p is not None
            else "–"
        )
        p_target = (
            wording.format_value(p["target"], kind, unit, currency, compact=True) if p is not None else "–"
        )
        if p is not None and (p_gap := wording.gap_text(p, unit=unit, currency=currency, short=True)):
            p_target += f" ({p_gap})"
        cells = {
            "side": str(row["party"]).capitalize(),
            "commitment": commitment_title(cid),
            "week": value,
            "target": wording.format_value(row["target"], kind, unit, currency, compact=True)
            + (
                f" ({gap})"
                if (gap := wording.gap_text(row, unit=unit, currency=currency, short=True))
                else ""
            ),
            "status": _status_cell(row["status"], styles),
            "vs": f"{change} (was {previous})" if change else f"was {previous}",
            "period": p_value,
            "projection": wording.format_value(p["projection"], kind, unit, currency, compact=True)
            if p is not None
            else "–",
            "p_target": p_target,
            "p_status": _status_cell(p_status, styles),
        }
        order = (["commitment", "week", "target", "status", "prev", "change", "period", "projection",
                  "p_target", "p_status"] if detail else
                 ["side", "commitment", "week", "target", "status", "vs", "period", "p_target", "p_status"])  # fmt: skip
        cells["prev"], cells["change"] = previous, change
        data.append(
            [
                c if isinstance(c, Paragraph) else Paragraph(_xml(c), styles["cell"])
                for c in (cells[k] for k in order)
            ]
        )
        s_col, p_col = order.index("status"), order.index("p_status")
        backgrounds.append(
            ("BACKGROUND", (s_col, i), (s_col, i), _tint(STATUS_COLORS.get(row["status"], "#9e9e9e")))
        )
        backgrounds.append(
            ("BACKGROUND", (p_col, i), (p_col, i), _tint(STATUS_COLORS.get(p_status, "#9e9e9e")))
        )
    width = PAGE[0] - 2 * MARGIN
    shares = ([0.14, 0.12, 0.1, 0.1, 0.09, 0.09, 0.12, 0.09, 0.09, 0.1] if detail
              else [0.08, 0.15, 0.15, 0.1, 0.09, 0.13, 0.12, 0.09, 0.09])  # fmt: skip
    shares = [s / sum(shares) for s in shares]
    table = Table(data, colWidths=[width * s for s in shares], repeatRows=1)
    table.setStyle(
        TableStyle([
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#d1d5db")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            *backgrounds,
        ])
    )  # fmt: skip
    return table


def _state_line(overview: WeekOverview, document: Agreement) -> str:
    local = overview.as_of.tz_convert(document.timezone)
    if overview.is_closed:
        state = (
            f"Week closed ({local:%a %d %b %Y %H:%M} {document.timezone}): "
            "counts as at its end, rates as known now"
        )
    else:
        state = (f"Week in progress: as of {local:%a %d %b %Y %H:%M} ({document.timezone}); "
                 "counts and amounts are shown so far and at their current pace")  # fmt: skip
    if overview.frozen:
        frozen = ", ".join(f"{w} on {t:%d %b %Y %H:%M} UTC" for w, t in sorted(overview.frozen.items())[-2:])
        state += f". Frozen figures used for {frozen}"
    return state + "."


def _footer(agreement: str, week: str, regular: str):
    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7.5)
        canvas.setFillColor(colors.HexColor("#6b7280"))
        canvas.drawString(MARGIN, 8 * mm, f"Accord · {agreement} · meeting pack {week}")
        canvas.drawRightString(PAGE[0] - MARGIN, 8 * mm, f"page {doc.page}")
        canvas.restoreState()

    return draw


def build_meeting_pack(
    overview: WeekOverview,
    document: Agreement,
    *,
    charts: bool = True,
    progress: Progress | None = None,
    session: ChartSession | None = None,
) -> bytes:
    """Return the meeting pack of ``overview`` as PDF bytes (page 1 overview, then one page per party).

    ``document`` is the agreement in force (parties, descriptions, consequences,
    timezone, currency). ``charts=False`` leaves the charts out (faster); when
    they cannot be drawn the pack says so instead of failing. ``session``: a
    :class:`ChartSession` already started (else one is started for the charts).
    """
    report = progress or (lambda *args, **kwargs: None)
    styles = _styles()
    currency = document.currency
    parties = [p for p in document.parties if (overview.week_rows()["party"] == p).any()]
    images: dict[str, list[bytes]] = {}
    chart_problem = None
    if charts:
        figures = {party: trend_figures(overview, party, currency) for party in parties}
        count = sum(len(f) for f in figures.values())
        report("charts", 0, count)
        try:
            flat = render_pngs([f for party in parties for f in figures[party]], session=session)
        except ChartRenderError as exc:
            chart_problem = str(exc)
        else:
            for party in parties:
                images[party], flat = flat[: len(figures[party])], flat[len(figures[party]) :]
        report("charts", count, count)

    report("pdf", 0, 1)
    story = []
    week_rows = overview.week_rows()
    story.append(Paragraph(_xml(f"{document.name} — meeting pack, {overview.week}"), styles["title"]))
    period = overview.period_rows()["period"].iloc[0] if len(overview.period_rows()) else ""
    story.append(Paragraph(_xml(f"Week {overview.week}: {week_dates(overview.week)} · "
                                f"{period_title(period)} to date · both sides, every commitment"),
                           styles["subtitle"]))  # fmt: skip
    story.append(Paragraph(_xml(_state_line(overview, document)), styles["small"]))
    story.append(Paragraph("The three biggest gaps", styles["h2"]))
    if overview.gaps.empty:
        story.append(Paragraph("Every commitment with a target is met or on track.", styles["body"]))
    for n, gap in enumerate(overview.gaps.to_dict("records"), start=1):
        color = STATUS_COLORS.get(gap["status"], "#9e9e9e")
        story.append(Paragraph(f'{n}. <font color="{color}">●</font> {_xml(gap["sentence"])} '
                               f"<i>({STATUS_LABELS.get(gap['status'], gap['status'])})</i>", styles["body"]))  # fmt: skip
    if len(overview.corrections):
        story.append(Paragraph("Corrections since freezing", styles["h2"]))
        messages = overview.corrections["message"].tolist()
        for message in messages[:MAX_CORRECTIONS]:
            story.append(Paragraph(f"• {_xml(message)}", styles["body"]))
        if len(messages) > MAX_CORRECTIONS:
            story.append(Paragraph(f"… and {len(messages) - MAX_CORRECTIONS} more.", styles["body"]))
    story.append(Paragraph("Every commitment", styles["h2"]))
    if week_rows.empty:
        story.append(Paragraph("No commitment has figures for this week yet.", styles["body"]))
    else:
        story.append(_scoreboard(overview, week_rows, styles, currency, detail=False))
    if len(overview.trend):
        story.append(
            Paragraph(f"The last {overview.trend['period'].nunique()} weeks, as known now", styles["h2"])
        )
        story.append(_week_grid(overview, styles, currency))
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(_xml(
        "How to read: ISO weeks in the agreement's timezone. Counts and amounts: as at the week's end, against the "
        "period's target prorated by business time; rates: as known now, provisional until the week's windows "
        "have run out. Frozen weeks show their frozen figures. Green: met / on track; amber: at risk; red: "
        "missed / off track; grey: provisional, pending, no data, no target."), styles["small"]))  # fmt: skip
    if chart_problem:
        story.append(Paragraph(_xml(f"Charts are left out: {chart_problem}."), styles["small"]))

    for party in parties:
        story.append(PageBreak())
        rows = week_rows[week_rows["party"] == party]
        story.append(Paragraph(_xml(f"{party.capitalize()} — {overview.week} and {period_title(period)} to date"),
                               styles["title"]))  # fmt: skip
        story.append(Paragraph(_xml(_state_line(overview, document)), styles["small"]))
        story.append(Spacer(1, 3 * mm))
        story.append(_scoreboard(overview, rows, styles, currency, detail=True))
        story.append(Spacer(1, 2 * mm))
        for line in _commitment_notes(document, rows):
            story.append(Paragraph(line, styles["small"]))
        if images.get(party):
            story.append(Spacer(1, 3 * mm))
            story.append(KeepTogether([
                _chart_grid(images[party]),
                Paragraph("Each week as known now (leads pending at a week's close have been decided since); "
                          "the line is the week's target.", styles["small"]),
            ]))  # fmt: skip
        elif charts and not chart_problem:
            story.append(Paragraph("No weekly figures to chart yet.", styles["body"]))

    buffer = io.BytesIO()
    regular, _ = _fonts()
    pdf = SimpleDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN + 2 * mm,
        title=f"{document.name} — meeting pack {overview.week}", author="Accord",
        subject=f"Sales and marketing SLA, week {overview.week}",
    )  # fmt: skip
    footer = _footer(document.name, overview.week, regular)
    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    report("pdf", 1, 1)
    return buffer.getvalue()


def _week_grid(overview: WeekOverview, styles, currency: str | None) -> Table:
    """Each commitment's figure per week, the cell tinted by that week's status (as known now)."""
    values, statuses = week_grid(overview.trend, currency)
    data = [[Paragraph(_xml(h), styles["head"]) for h in values.columns]]
    data += [[Paragraph(_xml(v), styles["cell"]) for v in row] for row in values.itertuples(index=False)]
    tints = [
        ("BACKGROUND", (j, i), (j, i), _tint(STATUS_COLORS.get(status, "#9e9e9e")))
        for i, row in enumerate(statuses.itertuples(index=False), start=1)
        for j, status in enumerate(row)
        if j >= 2 and status
    ]
    width = PAGE[0] - 2 * MARGIN
    first_cols = [0.08 * width, 0.15 * width]
    weeks = len(values.columns) - 2
    rest = (width - sum(first_cols)) / max(weeks, 1)
    table = Table(data, colWidths=first_cols + [rest] * weeks, repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#d1d5db")),
        ("LINEAFTER", (1, 0), (-2, -1), 0.4, colors.white),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        *tints,
    ]))  # fmt: skip
    return table


def _commitment_notes(document: Agreement, rows: pd.DataFrame) -> list[str]:
    """One line per commitment: what it promises and, when behind, what the agreement says happens."""
    consequences = {c.commitment: c for c in document.consequences}
    lines = []
    for row in rows.to_dict("records"):
        try:
            described = document.commitment(row["commitment"]).description
        except ValueError:
            described = None
        text = f"<b>{_xml(commitment_title(row['commitment']))}</b>: {_xml(described or row['metric'])}"
        rule = consequences.get(row["commitment"])
        if rule and rule.on_miss and row["status"] in ("missed", "off track", "at risk"):
            text += f" <i>If missed: {_xml(rule.on_miss)}</i>"
        lines.append(text)
    return lines


def _chart_grid(pngs: list[bytes]) -> Table:
    """Charts side by side, three to a row."""
    per_row = 3 if len(pngs) != 4 else 2
    width = (PAGE[0] - 2 * MARGIN) / per_row - 2 * mm
    height = width * CHART_PX[1] / CHART_PX[0]
    cells = [Image(io.BytesIO(png), width=width, height=height) for png in pngs]
    rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
    rows[-1] += [""] * (per_row - len(rows[-1]))
    return Table(rows, colWidths=[width + 2 * mm] * per_row)


# ----------------------------------------------------------------------------- from the database


def meeting_pack(
    engine: Engine,
    agreement: str,
    week: str,
    as_of: pd.Timestamp,
    *,
    charts: bool = True,
    progress: Progress | None = None,
    trend_weeks: int = TREND_WEEKS,
) -> bytes:
    """Return the meeting pack PDF of ``week`` of ``agreement`` as of ``as_of``, read from the database.

    The charts' browser starts while the data are read.
    """
    report = progress or (lambda *args, **kwargs: None)
    with ChartSession() if charts else contextlib.nullcontext() as session:
        report("reading", 0, 1)
        overview = load_view(
            engine, agreement, week, as_of, trend_weeks=trend_weeks
        ).overview  # the Overview's view
        report("reading", 1, 1)
        document = document_in_force(versions_of(engine, agreement), overview.as_of)
        return build_meeting_pack(overview, document, charts=charts, progress=progress, session=session)
