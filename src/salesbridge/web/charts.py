"""Charts of the console: server-rendered SVG drawn by pygal, inlined in the page.

The console's Content-Security-Policy allows no inline script or style, so a chart carries neither: pygal's
``<script>`` (its tooltips) and ``<style>`` are taken out of the SVG and the chart's look comes from
``/static/charts.css``, which is pygal's own stylesheet for :data:`STYLE`, scoped to ``.pygal-chart`` and generated
by :func:`stylesheet` (``python -m salesbridge.web.charts > src/salesbridge/web/static/charts.css``; a unit test
checks the file matches). No JavaScript or CSS is fetched from anywhere else.

Callers pass every word already translated (title, axis labels, series names) and a value formatter for the page's
locale (:func:`number_formatter`, :func:`percent_formatter`, :func:`currency_formatter`; Babel), so the charts read
the same as the tables beside them. Each chart is an ``<svg role="img">`` named by its ``<title>``
(``aria-labelledby``), with an optional ``<desc>``; the numbers should also be shown as a table for people who do
not see the chart.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Any, Final

import pygal
from babel import Locale
from babel.numbers import format_currency, format_decimal, format_percent
from markupsafe import Markup
from pygal.style import Style
from pygal.util import text_len

# pygal appends a legacy import hook (for its map plugins, unused here) to sys.meta_path; Python 3.11 warns
# (ImportWarning) about it on every later import that reaches it, i.e. every optional import that fails. Take it out.
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__module__ != "pygal"]

__all__ = [
    "STYLE",
    "Series",
    "ValueFormatter",
    "bar_chart",
    "currency_formatter",
    "line_chart",
    "number_formatter",
    "percent_formatter",
    "stylesheet",
]

ValueFormatter = Callable[[float], str]
"""Writes one value of a chart (an axis label) as the page's locale writes it."""

_SVG_NS: Final = "http://www.w3.org/2000/svg"
_SCOPE: Final = ".pygal-chart "
_SENTINEL_ID: Final = "salesbridge-stylesheet"
# Enough colour classes (.color-0 … .color-7) for any chart of the console; a ninth series would be drawn uncoloured.
_STYLED_SERIES: Final = 8
# The chart scales with its column (the SVG has a viewBox and no size of its own), down to a phone's width.
_LAYOUT: Final = ".pygal-chart{display:block;width:100%;max-width:720px;height:auto}\n"
_FONT: Final = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'

STYLE: Final = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1c2430",
    foreground_strong="#1c2430",
    foreground_subtle="#5b6675",
    opacity="0.9",
    opacity_hover="1",
    transition="none",
    # The console's accent first; then hues that stay apart for the common colour-vision deficiencies (Okabe-Ito).
    colors=("#0a66c2", "#d55e00", "#1d7a46", "#7a4fa3", "#b8860b", "#56758a", "#cc79a7", "#333333"),
    font_family=_FONT,
    title_font_family=_FONT,
    label_font_family=_FONT,
    major_label_font_family=_FONT,
    legend_font_family=_FONT,
    value_font_family=_FONT,
    tooltip_font_family=_FONT,
    no_data_font_family=_FONT,
    title_font_size=18,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    no_data_font_size=18,
)
"""The look of every chart (the console's ink and accent colours, its font)."""


@dataclass(frozen=True)
class Series:
    """One named line or set of bars: ``label`` (already translated) and one value per x label (None: no value)."""

    label: str
    values: tuple[float | None, ...]


def number_formatter(locale: str, digits: int = 0) -> ValueFormatter:
    """Numbers with up to ``digits`` decimals, grouped as ``locale`` writes them (``12,345.5`` / ``12.345,5``)."""
    pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "")
    return lambda value: format_decimal(value, format=pattern, locale=locale)


def percent_formatter(locale: str) -> ValueFormatter:
    """Ratios (``0.875``) as percentages as ``locale`` writes them (``88%`` / ``88 %``)."""
    return lambda value: format_percent(value, locale=locale)


def currency_formatter(locale: str, currency: str) -> ValueFormatter:
    """Amounts in ``currency`` (an ISO 4217 code) as ``locale`` writes them, whole units on the axis
    (``$12,000`` / ``12.000 US$``)."""
    pattern = Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0].replace(".00", "")
    return lambda value: format_currency(
        Decimal(str(value)), currency, format=pattern, locale=locale, currency_digits=False
    )


def bar_chart(
    *,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    value_formatter: ValueFormatter,
    description: str | None = None,
    stacked: bool = False,
) -> Markup:
    """A bar chart (stacked when ``stacked``) of ``series`` over ``x_labels``, as inline SVG markup.

    Every value of ``series`` lines up with ``x_labels``. ``title``, the labels and ``description`` are shown as
    given (translate them first); ``value_formatter`` writes the y axis.
    """
    chart_type: Any = pygal.StackedBar if stacked else pygal.Bar
    return _render(chart_type, title, x_labels, series, value_formatter, description)


def line_chart(
    *,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    value_formatter: ValueFormatter,
    description: str | None = None,
) -> Markup:
    """A line chart of ``series`` over ``x_labels`` (e.g. weeks or runs), as inline SVG markup.

    Same contract as :func:`bar_chart`.
    """
    return _render(pygal.Line, title, x_labels, series, value_formatter, description)


def stylesheet() -> str:
    """The CSS of every chart: pygal's stylesheet for :data:`STYLE`, scoped to ``.pygal-chart`` (the content of
    ``static/charts.css``)."""
    chart = _configured(pygal.Bar, "", value_formatter=str)
    chart.uuid = _SENTINEL_ID
    for index in range(_STYLED_SERIES):
        chart.add(str(index), [1])
    root = ET.fromstring(chart.render(is_unicode=True))
    style = root.find(f"{{{_SVG_NS}}}defs/{{{_SVG_NS}}}style")
    css = style.text if style is not None and style.text else ""
    scoped = css.replace(f"#chart-{_SENTINEL_ID} ", _SCOPE).replace(f"#chart-{_SENTINEL_ID}", _SCOPE.strip())
    return scoped.strip() + "\n" + _LAYOUT


_UNIT_TICKS_BELOW: Final = 10
"""Charts of whole numbers all below this get a y-axis tick per unit (pygal would draw tenths)."""

_ids = count(1)
# Serialise SVG elements unprefixed (<svg>, not <ns0:svg>); ``default_namespace=`` of ElementTree refuses the
# unqualified attributes every SVG element has.
ET.register_namespace("", _SVG_NS)


def _configured(chart_type: Any, title: str, value_formatter: ValueFormatter) -> Any:
    return chart_type(
        style=STYLE,
        title=title or None,
        js=[],
        css=["file://style.css", "file://graph.css"],
        disable_xml_declaration=True,
        width=720,
        height=380,
        margin=12,
        legend_at_bottom=True,
        truncate_legend=-1,
        truncate_label=-1,
        x_label_rotation=0,
        show_minor_x_labels=True,
        value_formatter=value_formatter,
        include_x_axis=True,
        print_values=False,
        show_legend=True,
    )


def _render(
    chart_type: Any,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    value_formatter: ValueFormatter,
    description: str | None,
) -> Markup:
    chart = _configured(chart_type, title, value_formatter)
    # One row of legend under the plot (pygal leaves room for it); a single series needs none: the title names it.
    chart.show_legend = len(series) > 1
    chart.legend_at_bottom_columns = max(len(series), 1)
    # An empty chart stays blank: the page's table says there is nothing yet, in the page's language.
    chart.no_data_text = ""
    chart.x_labels = list(x_labels)
    _fit_x_labels(chart, chart_type, x_labels)
    for one in series:
        chart.add(one.label, list(one.values))
    # Whole numbers (counts, whole amounts) below 10: pygal's tenths would read "0, 0, 0, 1, 1" once formatted
    # without decimals; one tick per unit instead.
    shown = [value for one in series for value in one.values if value is not None]
    if all(float(value).is_integer() and 0 <= value < _UNIT_TICKS_BELOW for value in shown):
        chart.y_labels = list(range(max(int(max(shown, default=0)), 1) + 1))
    root = ET.fromstring(chart.render(is_unicode=True))
    _strip_inline_code(root)
    chart_id = f"chart-{next(_ids)}"
    root.set("id", chart_id)
    root.set("role", "img")
    root.set("focusable", "false")
    for old_title in root.findall(f"{{{_SVG_NS}}}title"):
        root.remove(old_title)
    title_node = ET.Element(f"{{{_SVG_NS}}}title", {"id": f"{chart_id}-title"})
    title_node.text = title
    root.insert(0, title_node)
    root.set("aria-labelledby", f"{chart_id}-title")
    if description:
        desc_node = ET.Element(f"{{{_SVG_NS}}}desc", {"id": f"{chart_id}-desc"})
        desc_node.text = description
        root.insert(1, desc_node)
        root.set("aria-describedby", f"{chart_id}-desc")
    svg = ET.tostring(root, encoding="unicode")
    return Markup(svg)  # serialised by ElementTree: every label is escaped text


_LABEL_ROTATION: Final = 45
"""Degrees x labels turn by when they would not fit side by side."""
_Y_LABELS: Final = 40
"""About the width of the y axis' labels (``100%``, ``12,000``), left of the plot."""


def _label_width(label: str) -> float:
    # pygal's own estimate of a label's width (it sizes the margins with it).
    return float(text_len(len(label), STYLE.label_font_size))


def _fit_x_labels(chart: Any, chart_type: Any, x_labels: Sequence[str]) -> None:
    """Keep every x label inside the chart. pygal centres a line chart's first and last labels on the plot's
    edges and leaves no room for their outer halves (the last one was cut off: "12/6/26, 1:2"): widen the side
    margins by half of those labels. Labels too long to stand side by side turn by :data:`_LABEL_ROTATION`
    degrees (pygal then makes room on the right for the turned labels itself)."""
    if not x_labels:
        return
    widths = [_label_width(label) for label in x_labels]
    config = chart.config
    line = issubclass(chart_type, pygal.Line)
    # A line chart's labels stand on its points, first and last on the plot's edges; a bar chart's in its slots.
    plot = config.width - 2 * config.margin - _Y_LABELS - ((widths[0] + widths[-1]) / 2 if line else 0)
    pitch = plot / max(len(widths) - 1 if line else len(widths), 1)
    if max(widths) + config.spacing > pitch:
        chart.x_label_rotation = _LABEL_ROTATION
        return
    if line:
        chart.margin_left = max(config.margin, widths[0] / 2)
        chart.margin_right = widths[-1] / 2 + config.margin


def _strip_inline_code(root: ET.Element) -> None:
    """Take out what the Content-Security-Policy would block: pygal's ``<script>`` and ``<style>``, the tooltip
    overlay (inline ``style``; only pygal's script drives it) and the comments ElementTree already dropped."""
    for defs in root.findall(f"{{{_SVG_NS}}}defs"):
        root.remove(defs)
    for parent in root.iter():
        for child in list(parent):
            if child.get("style") is not None or "tooltip-overlay" in (child.get("class") or ""):
                parent.remove(child)


if __name__ == "__main__":  # pragma: no cover - regenerates static/charts.css
    sys.stdout.write(stylesheet())
