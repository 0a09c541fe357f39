"""Charts of the breakdowns: titles, axis titles, targets drawn in, status colours, a tidy layout."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from analytics import breakdown_charts as bc
from analytics.charts import tidy
from analytics.followup import delays_by
from analytics.funnel import funnel
from analytics.groups import NO_REASON
from tests.analytics.conftest import agreement
from tests.analytics.test_breakdowns import ACCEPT, AS_OF, MARCH, detail_frame, march_frames
from views.marketing import acceptance_by, rejection_reasons, volume_by


def test_charts_have_titles_axes_and_targets():
    doc = agreement(commitments=[ACCEPT])
    frames = march_frames()
    volume = volume_by(doc, frames, *MARCH, AS_OF)
    fig = bc.volume_chart(volume, by="channel", title="MQLs")
    assert fig.layout.title.text == "MQLs" and fig.layout.xaxis.title.text == "Leads (count)"
    assert list(fig.data[0].y) == volume["channel"].tolist()

    acceptance = acceptance_by(doc, frames, *MARCH, AS_OF)
    fig = bc.acceptance_chart(acceptance, by="channel", title="Acceptance", target=0.5)
    names = [t.name for t in fig.data]
    assert names[:3] == ["Accepted", "Rejected", "Open (not decided)"]
    assert "Accepted needed for the 50% target" in names
    assert list(fig.data[0].y)[0] == "Paid Search"  # lowest acceptance on top
    assert fig.data[0].marker.color == "#1a9850" and fig.data[1].marker.color == "#d73027"

    reasons = rejection_reasons(doc, frames, *MARCH, AS_OF)
    fig = bc.rejection_reasons_chart(reasons, by="channel", title="Why")
    assert {t.name for t in fig.data} == {"not icp", NO_REASON}
    assert fig.layout.barmode == "stack"

    fig = bc.delay_chart(delays_by(detail_frame()), by="team", title="Delays", limit_hours=4)
    assert [t.name for t in fig.data] == [
        "Routing (created → assigned)",
        "Rep (assigned → first touch)",
    ]
    assert fig.layout.shapes[0].x0 == 4

    cohorts = funnel(doc, frames, "2026-01-01", "2026-04-01", AS_OF)
    fig = bc.conversion_chart(cohorts, title="Conversion", target=0.3)
    assert len(fig.data) == 3 and fig.layout.shapes[0].y0 == pytest.approx(30)
    fig = bc.stage_days_chart(cohorts, title="Days")
    assert fig.layout.yaxis.title.text == "Median days between stages (calendar days)"
    with pytest.raises(bc.ChartError, match="acceptance chart: the frame lacks column"):
        bc.acceptance_chart(volume, by="channel", title="x")


def test_tidy_puts_title_then_legend_then_plot_and_hides_empty_traces():
    fig = go.Figure(
        [
            go.Bar(x=["a", "b"], y=[3, 4], name="Actual", text=["3", "4"], textposition="outside"),
            go.Scatter(x=["a", "b"], y=[float("nan"), float("nan")], name="Target"),
            go.Scatter(y=["a", "b"], x=[1.0, 2.0], name="Needed", mode="markers"),
        ],
        layout={"title": {"text": "Title<br><sup>November 2026</sup>"}, "height": 500, "margin": {"t": 80}},
    )
    laid = tidy(fig)
    assert [t.showlegend for t in laid.data] == [None, False, None]  # no target: no "Target" legend entry
    top = 34 + 20 + 2 * 19 + 10  # a two-line title, then two legend entries, one a line
    assert laid.layout.margin.t == top and laid.layout.height == 500 - 80 + top  # the plot keeps its height
    assert laid.layout.title.yref == "container" and laid.layout.legend.yref == "container"
    assert laid.layout.legend.orientation == "v"
    assert laid.layout.title.y > laid.layout.legend.y  # the title above the legend
    assert 1 - laid.layout.legend.y < top / laid.layout.height  # the legend starts above the plot
    assert all(t.cliponaxis is False for t in laid.data)  # labels past the axes are not cut off
    single = tidy(go.Figure(go.Bar(x=[1], y=[2], name="Leads"), layout={"title": {"text": "One"}}))
    assert single.layout.margin.t == 34  # one trace: plotly shows no legend, so no room is kept for it
