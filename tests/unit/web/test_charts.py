"""The console's charts: pygal SVG without inline script or style, named for assistive technology, numbers as the
page's locale writes them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pygal.util import text_len

from salesbridge.web import charts
from salesbridge.web.charts import Series

SVG = "{http://www.w3.org/2000/svg}"
STATIC_CSS = Path(charts.__file__).parent / "static" / "charts.css"


def _weekly(kind: str = "bar", locale: str = "en", currency: str = "EUR") -> str:
    draw = charts.bar_chart if kind == "bar" else charts.line_chart
    return str(
        draw(
            title="Activity <per> week",
            x_labels=["Week 1", "Week 2"],
            series=[Series("Notes & calls", (12000.0, 1500.0)), Series("Emails", (None, 3.0))],
            value_formatter=charts.currency_formatter(locale, currency),
            description="Two weeks",
        )
    )


@pytest.mark.parametrize("kind", ["bar", "line"])
def test_a_chart_is_one_svg_image_named_by_its_title_without_script_or_inline_style(kind: str) -> None:
    svg = _weekly(kind)
    root = ET.fromstring(svg)

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Activity <per> week"
    assert root.get("aria-labelledby") == title.get("id")
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert desc.text == "Two weeks"
    assert root.get("aria-describedby") == desc.get("id")
    assert "<script" not in svg
    assert "<style" not in svg
    assert all(element.get("style") is None for element in root.iter())
    assert "Activity &lt;per&gt; week" in svg  # escaped, not markup
    legend = [text.text for text in root.iter(f"{SVG}text") if text.text in {"Notes & calls", "Emails"}]
    assert sorted(legend) == ["Emails", "Notes & calls"]


def test_two_charts_on_one_page_have_distinct_ids() -> None:
    first, second = ET.fromstring(_weekly()), ET.fromstring(_weekly())

    assert first.get("id") != second.get("id")


def test_the_axis_is_written_as_the_locale_writes_amounts() -> None:
    english = [t.text for t in ET.fromstring(_weekly(locale="en")).iter(f"{SVG}text")]
    spanish = [t.text for t in ET.fromstring(_weekly(locale="es")).iter(f"{SVG}text")]

    assert "€12,000" in english
    assert "12.000\xa0€" in spanish


@pytest.mark.parametrize(
    ("formatter", "value", "text"),
    [
        (charts.number_formatter("en"), 12345.0, "12,345"),
        (charts.number_formatter("es"), 12345.0, "12.345"),
        (charts.number_formatter("es", digits=1), 2.5, "2,5"),
        (charts.percent_formatter("en"), 0.875, "88%"),
        (charts.percent_formatter("es"), 0.875, "88\xa0%"),
        (charts.currency_formatter("en", "USD"), 2500.0, "$2,500"),
        (charts.currency_formatter("es", "USD"), 2500.0, "2.500\xa0US$"),
    ],
)
def test_formatters_write_numbers_per_locale(formatter: charts.ValueFormatter, value: float, text: str) -> None:
    assert formatter(value) == text


def test_the_static_stylesheet_is_pygals_for_the_console_style() -> None:
    # Regenerate with: .venv/bin/python -m salesbridge.web.charts > src/salesbridge/web/static/charts.css
    assert STATIC_CSS.read_text(encoding="utf-8") == charts.stylesheet()


def test_the_stylesheet_is_scoped_to_charts_and_colours_each_series() -> None:
    css = charts.stylesheet()

    assert "#chart-" not in css
    assert ".pygal-chart .title" in css
    assert ".pygal-chart .color-0" in css
    assert ".pygal-chart .color-7" in css


@pytest.mark.parametrize(
    ("values", "ticks"), [((0.0, 0.0), ["0", "1"]), ((1.0, 0.0), ["0", "1"]), ((3.0, None), ["0", "1", "2", "3"])]
)
def test_small_counts_get_one_tick_per_unit_never_repeated_labels(
    values: tuple[float | None, ...], ticks: list[str]
) -> None:
    """Nothing written back yet (all zeros) or a few activities: pygal's tenths formatted without decimals read
    "0, 0, 0, 0, 1, 1"."""
    svg = charts.bar_chart(
        title="Activity",
        x_labels=["A", "B"],
        series=[Series("Notes", values)],
        value_formatter=charts.number_formatter("en"),
    )
    axis = ET.fromstring(str(svg)).find(f".//{SVG}g[@class='axis y always_show']")
    labels = [text.text for text in axis.iter(f"{SVG}text")] if axis is not None else []

    assert labels == ticks


def _x_label_extents(svg: str) -> list[tuple[float, float, float]]:
    """Each x label's (left, right, rotation) in the chart's coordinates, by pygal's own width estimate: centred
    on its point, or starting there when turned (pygal's stylesheet anchors turned labels at their start)."""
    root = ET.fromstring(svg)
    plot = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "plot")
    offset = float((plot.get("transform") or "").removeprefix("translate(").split(",")[0])
    axis = next(g for g in plot.iter(f"{SVG}g") if g.get("class") == "axis x")
    extents = []
    for text in axis.iter(f"{SVG}text"):
        x = offset + float(text.get("x") or 0)
        width = text_len(len(text.text or ""), charts.STYLE.label_font_size)
        turn = float((text.get("transform") or "rotate(0").removeprefix("rotate(").split()[0])
        if turn:
            extents.append((x, x + width * 0.7072, turn))
        else:
            extents.append((x - width / 2, x + width / 2, turn))
    return extents


@pytest.mark.parametrize("runs", [2, 4, 30])
def test_every_x_label_of_a_line_chart_fits_inside_the_chart(runs: int) -> None:
    # Reports' match rate: a short date and time per matching run; the last one was cut off ("12/6/26, 1:2").
    labels = [f"12/6/26, 1:{minute:02} AM" for minute in range(runs)]
    svg = str(
        charts.line_chart(
            title="Match rate",
            x_labels=labels,
            series=[Series("Contacts", tuple(0.5 for _ in labels))],
            value_formatter=charts.percent_formatter("en"),
        )
    )
    width = float((ET.fromstring(svg).get("viewBox") or "").split()[2])

    extents = _x_label_extents(svg)

    assert len(extents) == runs
    assert all(left >= 0 and right <= width for left, right, _ in extents), (width, extents)
    # Side by side when they fit; turned (so they do not overlap) when thirty of them would not.
    assert {turn for _, _, turn in extents} == ({45.0} if runs == 30 else {0.0})
