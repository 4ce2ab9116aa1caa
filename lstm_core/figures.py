"""Plotly figure builders: traces, step records and sweep tables in, `go.Figure` out.

Pure functions, tested without Streamlit (this module imports plotly and numpy, never streamlit or torch).
Everything is drawn for a classroom projector: fonts of 16 px and more, lines 3 px and thicker, one
colour-blind-safe palette (Okabe-Ito) in which a model or a gate keeps its colour on every page, and one fixed
colour scale per quantity, so that the same colour means the same value on every chart and at every step.

Text that comes from data (tokens, uploaded characters) is HTML-escaped before plotly sees it: plotly renders a
small HTML subset in labels and hover text, and uploaded text is data, never markup.
"""

from __future__ import annotations

import functools
import html
import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import plotly.colors as pcolors
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from .cells import CELLS, QUANTITIES

if TYPE_CHECKING:
    import pandas as pd

    from .views import LayerTrace, Trace

# -- one palette: each model and each gate keeps the colour its registry gives it (lstm_core.cells) ---------------
# for series keyed by other names: black, then Paul Tol's, since the cells hold six of Okabe-Ito's seven colours
EXTRA_COLORS = ("#000000", "#882255", "#117733", "#332288")
EXTRA_DASH = ("solid", "dash", "dot", "dashdot")


class Scale(NamedTuple):
    colorscale: str | list  # a plotly colour scale
    zmin: float  # value drawn with the scale's first colour (anything lower is saturated)
    zmax: float  # value drawn with the scale's last colour


# plotly.py expands "RdBu" in ColorBrewer order: red for the lowest values, blue for the highest. We store the
# explicit list so that blue = positive everywhere and nobody flips it by writing "RdBu_r" on one page.
DIVERGING = pcolors.get_colorscale("RdBu")
SEQUENTIAL = pcolors.get_colorscale("Cividis")
RANGE_SCALES = {
    "gate": Scale(SEQUENTIAL, 0.0, 1.0),  # sigmoid gates
    "tanh": Scale(DIVERGING, -1.0, 1.0),  # tanh outputs
    "state": Scale(DIVERGING, -3.0, 3.0),  # unbounded; beyond ±3 the colour saturates, hover keeps the value
}
SCALES = {
    **{q.name: RANGE_SCALES[q.range] for q in QUANTITIES.values()},
    "log_grad": Scale(pcolors.get_colorscale("Viridis"), -12.0, 0.0),  # log10 ‖dL/dh_t‖
    "rate": Scale(SEQUENTIAL, 0.0, 1.0),  # success rate of a sweep
}
# timesteps a heatmap over time draws at most: a longer sequence draws every k-th one (and its last, and the outlined
# one), each column the exact values of its timestep. 1,000 timesteps x 64 units x 5 gates made 6 MB of JSON a
# second while a run played (1.5 s to serialise); at most 250 columns keep a refresh of the Gates page light.
MAX_COLUMNS = 250
GRAD_FLOOR = 1e-30  # gradients that vanished to exactly 0 are drawn here on log axes (and the hover says so)
FONT = "Arial, Helvetica, sans-serif"
INK = "#222222"


# -- shared helpers -----------------------------------------------------------------------------------------------
def _house_template() -> go.layout.Template:
    """plotly_white with the house type and axes, built once and registered as plotly's default template.

    A figure takes the default template without copying or re-validating it, so building a figure costs a few
    milliseconds; setting the same look with `update_layout` on every figure cost about 80 ms each (measured on
    the three training curves of a 300-step run: 0.245 s to build, 0.055 s with this template).
    """
    t = go.layout.Template(pio.templates["plotly_white"])
    t.layout.update(
        font=dict(family=FONT, size=18, color=INK),
        title=dict(x=0.01, xanchor="left", y=0.98, yanchor="top", font=dict(size=22)),
        legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom", font=dict(size=17)),
        hoverlabel=dict(font=dict(size=16, family=FONT)),
    )
    axis = dict(showline=True, linewidth=2, linecolor="#444444", ticks="outside", tickwidth=2,
                tickfont=dict(size=16), title=dict(font=dict(size=18)), gridcolor="#e3e3e3", zeroline=False)
    t.layout.xaxis.update(axis)
    t.layout.yaxis.update(axis)
    return t


TEMPLATE = "lstm_gate_lab"
pio.templates[TEMPLATE] = _house_template()


def _use_house_template() -> None:
    # Importing Streamlit makes its own theme plotly's default; the setter costs 15 ms, so only when needed.
    if pio.templates.default != TEMPLATE:
        pio.templates.default = TEMPLATE


def figure(*data: Any, **kw: Any) -> go.Figure:
    """`go.Figure(...)` with the house template, taken as plotly's default template: without a copy."""
    _use_house_template()
    return go.Figure(*data, **kw)


def subplots(**kw: Any) -> go.Figure:
    """`make_subplots(...)` with the house template (see `figure`)."""
    _use_house_template()
    return make_subplots(**kw)


def _style_layout(title: str, height: int, legend: bool) -> dict:
    """The layout keys `style` sets, as a dict (for figures built in one constructor call)."""
    return dict(height=height, title=dict(text=title),
                margin=dict(l=90, r=40, t=30 + (45 if title else 0) + (45 if legend else 0), b=80))


def _has_legend(data) -> bool:
    return sum(1 for d in data if d.type in ("scatter", "bar") and d.showlegend is not False) > 1


def style(fig: go.Figure, title: str = "", height: int = 420) -> go.Figure:
    """The house look (white, 18 px text, 16 px ticks, thick axis lines, legend on top, from TEMPLATE): sets the
    title, the height, and margins with room for the title and legend."""
    fig.update_layout(_style_layout(title, height, _has_legend(fig.data)))
    return fig


def _hline_parts(y: float, label: str = "", color: str = "#555555", width: int = 3,
                 dash: str = "dash") -> tuple[dict, dict | None]:
    """The shape and (with a label) the annotation `hline` adds."""
    shape = dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=y, y1=y,
                 line=dict(color=color, width=width, dash=dash))
    note = dict(xref="paper", x=1, xanchor="right", yref="y", y=y, yanchor="bottom", showarrow=False,
                text=html.escape(label, quote=False), font=dict(size=16),
                bgcolor="rgba(255,255,255,0.8)") if label else None
    return shape, note


def hline(fig: go.Figure, y: float, label: str = "", color: str = "#555555", width: int = 3,
          dash: str = "dash") -> None:
    """A dashed horizontal line across the plot at y, labelled at its right end (what `add_hline` draws, for a
    tenth of its cost: `add_hline` resolves subplots on every call)."""
    shape, note = _hline_parts(y, label, color, width, dash)
    fig.update_layout(shapes=[*fig.layout.shapes, shape])
    if note:
        fig.update_layout(annotations=[*fig.layout.annotations, note])


def fmt(v: float, digits: int = 3) -> str:
    """A number as printed on figures: fixed decimals, a true minus sign."""
    return f"{float(v):.{digits}f}".replace("-", "\u2212")


def token_label(s: str) -> str:
    """A token as it can be shown in a plotly label: whitespace made visible, markup escaped."""
    shown = {"\n": "\u21b5", " ": "\u2423", "\t": "\u21e5", "": "\u2205"}.get(s, s)
    return html.escape(shown, quote=False)


def _model(name: str, cell: str | None = None, k: int = 0) -> tuple[str, str, str]:
    """(label, colour, dash) of a series keyed by model name ("lstm", "rnn", "gru").

    Any other key (say "clipped at 1") is its own label; it takes the colour of `cell` when given, else the
    k-th of the remaining Okabe-Ito colours, so two such series never share a colour.
    """
    if name in CELLS:
        return CELLS[name].label, CELLS[name].color, CELLS[name].dash
    if cell in CELLS:
        return name, CELLS[cell].color, CELLS[cell].dash
    return name, EXTRA_COLORS[k % len(EXTRA_COLORS)], EXTRA_DASH[k % len(EXTRA_DASH)]


def _token_ticks(tokens: tuple[str, ...] | list[str], plot_px: int = 1000) -> dict:
    """x-axis ticks showing every k-th token so labels never overlap; the last token is always shown."""
    T = len(tokens)
    if T == 0:
        return {}
    labels = [token_label(s) for s in tokens]
    width = max(len(html.unescape(s)) for s in labels)
    k = max(1, math.ceil(T / max(4, plot_px // (11 * width + 16))))
    vals = list(range(0, T, k))
    if vals[-1] != T - 1:
        if T - 1 - vals[-1] < k / 2 and len(vals) > 1:
            vals[-1] = T - 1
        else:
            vals.append(T - 1)
    return dict(tickmode="array", tickvals=vals, ticktext=[labels[v] for v in vals], tickangle=0)


def columns(T: int, keep: int | None = None, max_columns: int = MAX_COLUMNS) -> np.ndarray:
    """The timesteps a heatmap over T timesteps draws: all of them up to `max_columns`, else every k-th one, the
    last, and `keep` (the outlined one), so that the drawn columns are real timesteps with their exact values."""
    if T <= max_columns:
        return np.arange(T)
    k = math.ceil(T / max_columns)
    cols = set(range(0, T, k)) | {T - 1}
    if keep is not None and 0 <= keep < T:
        cols.add(int(keep))
    return np.array(sorted(cols))


def steps_note(T: int, max_columns: int = MAX_COLUMNS) -> str:
    """Which timesteps a heatmap over T timesteps draws, as a phrase ("every 5th of 1,001 timesteps drawn"), or ""
    when it draws them all."""
    if T <= max_columns:
        return ""
    k = math.ceil(T / max_columns)
    nth = {2: "2nd", 3: "3rd"}.get(k, f"{k}th")
    return f"every {nth} of {T:,} timesteps drawn"


def _steps_note(T: int) -> str:
    note = steps_note(T)
    return f" ({note})" if note else ""


def _highlight(fig: go.Figure, t: int | None, filled: bool = False, yrefs: tuple[str, ...] = ("paper",),
               label: bool = True) -> None:
    """Mark timestep t over the full height of each plot in `yrefs`: an outline for heatmaps, a band for lines.

    The label "t = ..." goes above a heatmap, inside the top of a band (where the legend would be in its way).
    """
    if t is None:
        return
    for yref in yrefs:
        fig.add_shape(**_outline(t, yref, filled))
    if label:
        fig.add_annotation(**_outline_label(t, yrefs[0], filled))


def _outline(t: int, yref: str, filled: bool = False) -> dict:
    """The rectangle `_highlight` draws around timestep t over the full height of the plot `yref`."""
    return dict(type="rect", xref="x", yref=yref, x0=t - 0.5, x1=t + 0.5, y0=0, y1=1,
                line=dict(color="#000000", width=3), fillcolor="rgba(0,0,0,0.12)" if filled else "rgba(0,0,0,0)",
                layer="above")


def _outline_label(t: int, yref: str = "paper", filled: bool = False) -> dict:
    """The "t = ..." label `_highlight` puts above an outline, or inside the top of a band."""
    return dict(x=t + 0.5 if filled else t, xref="x", y=1.0, yref=yref, xanchor="left" if filled else "center",
                yanchor="top" if filled else "bottom", text=f" t = {t}", showarrow=False, font=dict(size=16),
                bgcolor="rgba(255,255,255,0.85)")


def _layer(trace: Trace, layer: int) -> LayerTrace:
    if not 0 <= layer < len(trace.layers):
        raise ValueError(f"layer must be between 0 and {len(trace.layers) - 1}, got {layer}.")
    return trace.layers[layer]


def _quantity(trace: Trace, quantity: str, layer: int) -> np.ndarray:
    """The (T, H) array of one gate or state of one layer."""
    lt = _layer(trace, layer)
    if quantity == "h":
        return np.asarray(lt.h)
    if quantity not in lt.gates:
        allowed = ", ".join([*lt.gates, "h"])
        raise ValueError(f"a {trace.cell.upper()} trace has no quantity {quantity!r}; allowed: {allowed}.")
    return np.asarray(lt.gates[quantity])


def _rows(trace: Trace, layer: int, max_units: int, units: list[int] | None) -> list[int]:
    """The units a heatmap shows, top to bottom: `units` first (e.g. the memory units), then the rest in order."""
    H = _layer(trace, layer).h.shape[1]
    first = [int(u) for u in units] if units is not None else []
    return (first + [u for u in range(H) if u not in set(first)])[:max_units]


def _heatmap_spec(trace: Trace, quantity: str, layer: int, max_units: int, colorbar: dict,
                  units: list[int] | None = None, keep: int | None = None) -> dict:
    """One heatmap trace as a plain dict (figures are built in one constructor call), z[row][t], on the quantity's
    fixed scale; hover shows the unit, token and exact value. A long sequence draws the timesteps `columns` picks
    (with `keep`, the outlined one, among them)."""
    rows = _rows(trace, layer, max_units, units)
    ts = columns(trace.steps, keep)
    a = _quantity(trace, quantity, layer)[ts][:, rows].T  # (U, columns)
    U, T = a.shape
    sc = SCALES[quantity]
    tokens = np.array([token_label(trace.tokens[t]) for t in ts], dtype=object)
    ids = np.tile(np.asarray(rows)[:, None], (1, T))
    return dict(
        z=a, x=ts, y=np.arange(U), zmin=sc.zmin, zmax=sc.zmax, colorscale=sc.colorscale,
        customdata=np.dstack([np.tile(tokens, (U, 1)), ids]), name=quantity,
        hovertemplate="t=%{x} token %{customdata[0]}<br>unit=%{customdata[1]} value=%{z:.4f}<extra>" + quantity
        + "</extra>",
        colorbar=dict(thickness=22, tickfont=dict(size=16), outlinewidth=0, **colorbar),
    )


def _unit_axis(units, short: bool = False) -> str:
    """The unit axis's title; `short` for a row of the gate panel, whose height the long one outruns."""
    first = units is not None and len(units)
    if short:
        return "unit, memory first" if first else "unit"
    return "hidden unit" + (" (memory units first)" if first else "")


def _unit_ticks(trace: Trace, layer: int, max_units: int, units: list[int] | None, most: int = 16) -> dict:
    """y ticks naming the units when the rows are reordered (every k-th, at most `most`, so labels never
    overlap)."""
    if units is None or len(units) == 0:
        return {}
    rows = _rows(trace, layer, max_units, units)
    k = max(1, math.ceil(len(rows) / most))
    vals = list(range(0, len(rows), k))
    return dict(tickmode="array", tickvals=vals, ticktext=[str(rows[v]) for v in vals])


def _log_ticks(arrays: list) -> dict:
    """Ticks for a log axis, all in full-size type: 1-2-5 steps within three decades, else powers of ten.

    (plotly's own choice for short ranges prints the 2..9 between decades in a tiny font.)
    """
    v = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays] or [np.ones(1)])
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) == 0:
        return {}
    lo, hi = math.floor(math.log10(v.min())), math.ceil(math.log10(v.max()))
    if hi - lo <= 3:
        vals = [m * 10.0**k for k in range(lo, hi + 1) for m in (1, 2, 5) if v.min() / 2 <= m * 10.0**k <= v.max() * 2]
        return dict(tickmode="array", tickvals=vals, ticktext=[f"{x:g}" for x in vals])
    step = max(1, math.ceil((hi - lo) / 8))
    ks = range(lo - (lo % step), hi + 1, step)
    return dict(tickmode="array", tickvals=[10.0**k for k in ks], ticktext=[f"10<sup>{k}</sup>" for k in ks])


def _title(quantity: str) -> str:
    q = QUANTITIES.get(quantity)
    return q.title if q else quantity


def _color(quantity: str) -> str:
    return QUANTITIES[quantity].color


def _ink(color: str) -> str:
    """Black or white, whichever reads better on `color` (WCAG relative luminance)."""
    r, g, b = pcolors.unlabel_rgb(pcolors.convert_colors_to_same_type(color, "rgb")[0][0])
    lum = sum(w * ((c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4)
              for w, c in zip((0.2126, 0.7152, 0.0722), (r, g, b), strict=True))
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def _tint(color: str, amount: float = 0.22) -> str:
    """`color` mixed with white (an opaque pastel for box backgrounds)."""
    rgb = pcolors.unlabel_rgb(pcolors.convert_colors_to_same_type(color, "rgb")[0][0])
    return "rgb({:.0f},{:.0f},{:.0f})".format(*(255 - amount * (255 - c) for c in rgb))


# -- 1. training curves -------------------------------------------------------------------------------------------
FIELD_TITLES = {"loss": "training loss", "metric": "training metric", "grad_norm": "gradient norm before clipping",
                "val_metric": "held-out metric", "val_loss": "held-out loss", "seconds": "training time (s)"}


def _moving_average(y: np.ndarray, k: int) -> np.ndarray:
    """Trailing mean over the last k points (fewer at the start), so the newest point stays where it is."""
    if k <= 1 or len(y) == 0:
        return y
    c = np.concatenate([[0.0], np.cumsum(y)])
    n = np.arange(1, len(y) + 1)
    lo = np.maximum(0, n - k)
    return (c[n] - c[lo]) / (n - lo)


def _field(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, dict) else getattr(record, name, None)


MAX_POINTS = 2000  # per line on a training curve; longer runs are drawn as means of consecutive steps


def thin(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray, int]:
    """At most `max_points` points: the mean of each k consecutive values, at the bucket's last step.

    Returns (x, y, k); k = 1 leaves the arrays as they were. A mean (not every k-th value) keeps a one-step spike
    visible, at 1/k of its height. The last bucket may be shorter, so the newest step is always drawn.
    """
    n = len(x)
    k = max(1, math.ceil(n / max_points))
    if k == 1:
        return x, y, 1
    starts = np.arange(0, n, k)
    sums = np.add.reduceat(y, starts)
    counts = np.diff(np.append(starts, n))
    return x[np.minimum(starts + k, n) - 1], sums / counts, k


def training_curves(histories: dict[str, list], field: str, baseline: float | None = None, baseline_label: str = "",
                    title: str = "", y_title: str = "", log_y: bool = False, smooth: int = 1,
                    max_points: int = MAX_POINTS) -> go.Figure:
    """One line per model of `field` (a StepRecord attribute, or a key of metrics.jsonl rows) against the step.

    Records whose field is None are skipped. With smooth > 1 a trailing moving average is drawn thick over the
    raw values drawn faint. A dashed horizontal line marks `baseline` (chance, memoryless loss...). A line of
    more than `max_points` points is drawn as means of k consecutive points (see `thin`), and the axis says so:
    a browser redraws a 20,000-step run once a second while it trains.
    """
    data, kmax = [], 1  # plain dicts, then the figure in one call: a refresh draws three of these
    for k, (name, records) in enumerate(histories.items()):
        pts = [(_field(r, "step"), v) for r in records if (v := _field(r, field)) is not None]
        x = np.array([p[0] for p in pts], dtype=np.int64)
        y = np.array([p[1] for p in pts], dtype=np.float64)
        label, color, dash = _model(name, k=k)
        xs, ys, kk = thin(x, _moving_average(y, smooth), max_points)
        kmax = max(kmax, kk)
        each = f" (mean of {kk} steps)" if kk > 1 else ""
        if smooth > 1:
            xr, yr, _ = thin(x, y, max_points)
            data.append(dict(type="scatter", x=xr, y=yr, mode="lines", name=f"{label} (raw)", legendgroup=name,
                             showlegend=False, hoverinfo="skip", opacity=0.3, line=dict(color=color, width=2)))
        data.append(dict(
            type="scatter", x=xs, y=ys, mode="lines+markers" if len(xs) == 1 else "lines", name=label,
            legendgroup=name, line=dict(color=color, width=4, dash=dash),
            hovertemplate="%{y:.4g}" + each + "<extra>" + label + "</extra>"))
    layout = _style_layout(title, 420, sum(d.get("showlegend") is not False for d in data) > 1)
    if baseline is not None:
        shape, note = _hline_parts(baseline, baseline_label)
        layout.update(shapes=[shape], annotations=[note] if note else [])
    layout.update(
        hovermode="x unified",
        xaxis=dict(title=dict(text="training step" + (f" (each point: mean of {kmax} steps)" if kmax > 1 else ""))),
        yaxis=dict(title=dict(text=y_title or FIELD_TITLES.get(field, field) + (" (log scale)" if log_y else "")),
                   type="log" if log_y else "linear", **(_log_ticks([d["y"] for d in data]) if log_y else {})))
    fig = figure(data=data, layout=layout)
    return fig


def text_lesson_chart(curves: dict[str, list[dict]], title: str, lead_from: int | None = None,
                      seeds: int = 3) -> go.Figure:
    """The measured text lesson on one corpus (`narrate.text_lesson_curves`): mean held-out bits/char against the
    step per model. The y axis starts where the curves meet the first evaluations after step 0 (every model starts
    near a uniform guess, far above, and the crossing would be a hair's width); `lead_from`, the step from which
    the LSTM leads the vanilla RNN, is marked."""
    fig = training_curves(curves, "bits_per_char", title=title,
                          y_title=f"held-out bits/char, mean of {seeds} seeds")
    ys = [r["bits_per_char"] for rs in curves.values() for r in rs if r["step"] >= 100]
    if ys:
        lo, hi = min(ys), max(ys)
        fig.update_yaxes(range=[lo - 0.05 * (hi - lo), hi])
    if lead_from is not None:
        fig.update_layout(
            shapes=[*fig.layout.shapes, dict(type="line", xref="x", x0=lead_from, x1=lead_from, yref="paper", y0=0,
                                              y1=1, line=dict(color=INK, width=2, dash="dot"))],
            annotations=[*fig.layout.annotations, dict(
                x=lead_from, xref="x", xanchor="left", y=1, yref="paper", yanchor="top", showarrow=False,
                text=f" the LSTM leads from step {lead_from:,}", font=dict(size=16), bgcolor="rgba(255,255,255,0.85)")])
    return fig


# -- 2-4. gates and states ----------------------------------------------------------------------------------------
def _units_note(trace: Trace, layer: int, max_units: int) -> str:
    H = _layer(trace, layer).h.shape[1]
    return f" (first {max_units} of {H} units)" if H > max_units else ""


def gate_heatmap(trace: Trace, quantity: str, layer: int = 0, highlight_t: int | None = None,
                 title: str | None = None, max_units: int = 64, units: list[int] | None = None) -> go.Figure:
    """Heatmap of one gate or state, hidden unit (y) by timestep (x), on the quantity's fixed colour scale;
    `units` first, top to bottom, when given."""
    spec = _heatmap_spec(trace, quantity, layer, max_units, dict(title=dict(text=quantity, side="right")), units,
                         keep=highlight_t)
    if title is None:
        title = _title(quantity) + _units_note(trace, layer, max_units)
    title += _steps_note(trace.steps)
    U = min(max_units, _layer(trace, layer).h.shape[1])
    layout = _style_layout(title, max(320, min(640, 200 + 12 * U)), legend=False)
    layout.update(
        xaxis=dict(title=dict(text="timestep t (input token)"), showgrid=False, **_token_ticks(trace.tokens)),
        yaxis=dict(title=dict(text=_unit_axis(units)), showgrid=False, autorange="reversed",
                   **_unit_ticks(trace, layer, max_units, units)))
    if highlight_t is not None:  # what `_highlight` draws, as dicts (one figure call: 8-14 -> 3-5 ms, measured)
        layout.update(shapes=[_outline(highlight_t, "paper")], annotations=[_outline_label(highlight_t)])
    return figure(data=[dict(type="heatmap", **spec)], layout=layout)


@functools.cache
def _panel_domains(n: int) -> tuple[tuple[float, float], ...]:
    """The y domains, top row first, of `n` stacked subplots sharing one time axis (as make_subplots lays them)."""
    grid = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.34 / n if n > 1 else 0.0)
    return tuple(tuple(grid.layout[f"yaxis{k if k > 1 else ''}"].domain) for k in range(1, n + 1))


def gate_panel(trace: Trace, quantities: list[str], layer: int = 0, highlight_t: int | None = None,
               max_units: int = 64, units: list[int] | None = None) -> go.Figure:
    """Several heatmaps stacked on one shared time axis, each with its own colour bar and fixed scale.

    Built as plain dicts in one figure call (the Gates page redraws it on every refresh): 84 -> 17 ms for the
    headline lesson's six heatmaps, the same figure as make_subplots and a dozen updates built (measured).
    """
    n = len(quantities)
    if n == 0:
        raise ValueError("gate_panel needs at least one quantity.")
    doms = _panel_domains(n)
    ticks = _token_ticks(trace.tokens)
    unit_ticks = _unit_ticks(trace, layer, max_units, units, most=8)  # a row is about 200 px tall
    data, layout = [], {}
    for k, (q, dom) in enumerate(zip(quantities, doms, strict=True), start=1):
        sfx = str(k) if k > 1 else ""
        cb = dict(title=dict(text=q, side="right"), y=(dom[0] + dom[1]) / 2, len=dom[1] - dom[0], yanchor="middle")
        data.append(dict(type="heatmap", xaxis=f"x{sfx}", yaxis=f"y{sfx}",
                         **_heatmap_spec(trace, q, layer, max_units, cb, units, keep=highlight_t)))
        bottom = k == n
        layout[f"xaxis{sfx}"] = dict(
            anchor=f"y{sfx}", domain=[0.0, 1.0], showgrid=False, **ticks,
            **(dict(title=dict(text="timestep t (input token)")) if bottom else dict(matches=f"x{n}",
                                                                                       showticklabels=False)))
        layout[f"yaxis{sfx}"] = dict(anchor=f"x{sfx}", domain=list(dom), showgrid=False, autorange="reversed",
                                     title=dict(text=_unit_axis(units, short=True)), **unit_ticks)
    mark = f", t = {highlight_t} outlined" if highlight_t is not None else ""
    layout.update(_style_layout("Gates and states over time" + _units_note(trace, layer, max_units) + mark
                                + _steps_note(trace.steps), 130 + 230 * n, legend=False))
    layout["margin"]["t"] = 110  # room for the first subplot's title under the figure title
    # subplot titles: left-aligned, so they never run under a colour bar
    layout["annotations"] = [dict(text=_title(q), x=0, xanchor="left", xref="paper", y=dom[1], yanchor="bottom",
                                  yref="paper", showarrow=False, font=dict(size=18))
                             for q, dom in zip(quantities, doms, strict=True)]
    if highlight_t is not None:
        layout["shapes"] = [_outline(highlight_t, f"y{k if k > 1 else ''} domain") for k in range(1, n + 1)]
    return figure(data=data, layout=layout)


def unit_lines(trace: Trace, unit: int, layer: int = 0, highlight_t: int | None = None) -> go.Figure:
    """Every gate and state of one hidden unit over time, in the gate colours."""
    H = _layer(trace, layer).h.shape[1]
    if not 0 <= unit < H:
        raise ValueError(f"unit must be between 0 and {H - 1}, got {unit}.")
    fig = figure()
    T = len(trace.tokens)
    tokens = [token_label(s) for s in trace.tokens]
    lo, hi = -1.0, 1.0  # fixed unless the cell state leaves [-1, 1], so the axis does not jump between steps
    for q in CELLS[trace.cell].quantities:
        y = _quantity(trace, q, layer)[:, unit]
        lo, hi = min(lo, float(np.nanmin(y))), max(hi, float(np.nanmax(y)))
        fig.add_trace(go.Scatter(
            x=np.arange(T), y=y, mode="lines", name=QUANTITIES[q].label, customdata=tokens,
            line=dict(color=QUANTITIES[q].color, width=6 if q == "c" else 4, dash=QUANTITIES[q].dash),
            hovertemplate="%{y:.4f}<extra>" + q + "</extra>"))
    _highlight(fig, highlight_t, filled=True)
    style(fig, f"Unit {unit} of layer {layer}: gates and states over time", 460)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(title_text="timestep t (input token)", **_token_ticks(trace.tokens))
    pad = 0.05 * (hi - lo)
    fig.update_yaxes(title_text="hidden state h" if trace.cell == "rnn" else "gate or state value",
                     range=[lo - pad, hi + pad], zeroline=True, zerolinewidth=2, zerolinecolor="#999999")
    return fig


# -- 4b. attention: time x time -----------------------------------------------------------------------------------
def _pair(trace: Trace, quantity: str, layer: int) -> np.ndarray:
    """The (T, T) array of one time x time quantity (attention a, scores e) of one layer."""
    lt = _layer(trace, layer)
    if quantity not in lt.pairs:
        allowed = ", ".join(lt.pairs) or "none (only a model with attention has them)"
        raise ValueError(f"a {trace.cell} trace has no time x time quantity {quantity!r}; allowed: {allowed}.")
    return np.asarray(lt.pairs[quantity])


def attention_map(trace: Trace, quantity: str = "a", layer: int = 0, highlight_t: int | None = None,
                  title: str | None = None) -> go.Figure:
    """Where each step looks: the attention weights a (or the scores e), the step that reads (t, down) by the step
    it reads (s, across), on the quantity's fixed scale. Above the diagonal is left blank: s > t has not been
    read yet. With `highlight_t`, that step's row is outlined (`attention_row` draws it as bars)."""
    full = _pair(trace, quantity, layer)
    ts = columns(full.shape[0], highlight_t)  # a long sequence: every k-th step read and reading, exact values
    z = full[np.ix_(ts, ts)].astype(np.float64)
    T = len(ts)
    z[np.triu_indices(T, 1)] = np.nan  # the future: nothing to draw
    sc = SCALES[quantity]
    tokens = np.array([token_label(trace.tokens[t]) for t in ts], dtype=object)
    fig = figure(go.Heatmap(
        z=z, x=ts, y=ts, zmin=sc.zmin, zmax=sc.zmax, colorscale=sc.colorscale,
        customdata=np.stack([np.tile(tokens[:, None], (1, T)), np.tile(tokens, (T, 1))], axis=-1), name=quantity,
        hovertemplate="step t=%{y} (%{customdata[0]}) reads s=%{x} (%{customdata[1]})<br>" + quantity
        + " = %{z:.4f}<extra></extra>", hoverongaps=False,
        colorbar=dict(title=dict(text=quantity, side="right"), thickness=22, tickfont=dict(size=16),
                      outlinewidth=0)))
    if highlight_t is not None:
        fig.add_shape(type="rect", xref="x", yref="y", x0=-0.5, x1=highlight_t + 0.5, y0=highlight_t - 0.5,
                      y1=highlight_t + 0.5, line=dict(color="#000000", width=3), layer="above")
        fig.add_annotation(x=highlight_t + 0.5, y=highlight_t, xanchor="left", showarrow=False,
                           text=f" t = {highlight_t}", font=dict(size=16), bgcolor="rgba(255,255,255,0.85)")
    style(fig, (title if title is not None else _title(quantity)) + _steps_note(full.shape[0]),
          height=max(420, min(760, 240 + 6 * T)))
    ticks = _token_ticks(trace.tokens)
    fig.update_xaxes(title_text="step s that is read (input token)", showgrid=False, **ticks)
    fig.update_yaxes(title_text="step t that reads", showgrid=False, autorange="reversed", **ticks)
    return fig


def attention_row(trace: Trace, t: int, layer: int = 0) -> go.Figure:
    """Where step t looks: its attention weights a_(t,s) over the steps s = 0 .. t it can read, as bars on the
    tokens, on 0 to 1; the largest is labelled. For recall, the row at '?' is one bar at the cue."""
    a = _pair(trace, "a", layer)
    T = a.shape[0]
    if not 0 <= t < T:
        raise ValueError(f"t must be between 0 and {T - 1}, got {t}.")
    w = a[t, :t + 1].astype(np.float64)
    tokens = [token_label(s) for s in trace.tokens[:t + 1]]
    fig = figure(go.Bar(x=np.arange(t + 1), y=w, marker_color=_color("a"), customdata=tokens, name="a",
                        hovertemplate="s=%{x} (%{customdata}): a = %{y:.4f}<extra></extra>"))
    top = int(w.argmax())
    fig.add_annotation(x=top, y=float(w[top]), yanchor="bottom", showarrow=False, font=dict(size=16),
                       text=f"a = {fmt(w[top])} on s = {top} ({tokens[top]})", bgcolor="rgba(255,255,255,0.85)")
    token = token_label(trace.tokens[t])
    style(fig, f"Where step t = {t} ({token}) looks: its attention over steps 0 to {t}", 400)
    fig.update_xaxes(title_text="step s that is read (input token)", range=[-0.5, max(t, 1) + 0.5],
                     **_token_ticks(trace.tokens[:t + 1]))
    fig.update_yaxes(title_text="attention a (each row sums to 1)", range=[0, 1.15])
    return fig


# -- 5-6. gradients -----------------------------------------------------------------------------------------------
def _floored(g: np.ndarray, what: str) -> tuple[np.ndarray, list[str]]:
    """Values clipped to GRAD_FLOOR for a log axis, and hover texts that give the true value."""
    g = np.asarray(g, dtype=np.float64)
    text = [f"{what} = {v:.3e}" if v >= GRAD_FLOOR else
            f"{what} = {v:.3g}: vanished below float range, drawn at {GRAD_FLOOR:.0e}" for v in g]
    return np.maximum(g, GRAD_FLOOR), text


def gradient_curves(traces: dict[str, Trace], highlight_t: int | None = None, include_c: bool = True) -> go.Figure:
    """‖dL/dh_t‖ against t on a log axis for each model; ‖dL/dc_t‖ dashed where the cell has a cell state; a
    bidirectional LSTM's right-to-left direction dotted (h) and dash-dotted (c)."""
    fig = figure()
    any_floor, ys = False, []
    for name, tr in traces.items():
        if tr.grad_h is None:
            raise ValueError(f"the trace of {name!r} has no gradients; trace it with grads=True.")
        label, color, _ = _model(name, tr.cell)
        series = [("h", "", tr.grad_h, "solid", 4)]
        if include_c and tr.grad_c is not None:
            series.append(("c", "", tr.grad_c, "dash", 3))
        for q, g in tr.layers[0].grads.items():  # "h_rev", "c_rev"
            if include_c or q[0] != "c":
                series.append((q[0], ", right to left", g, "dot" if q[0] == "h" else "dashdot", 3))
        for q, way, g, dash, width in series:
            y, text = _floored(g, f"‖dL/d{q}<sub>t</sub>‖{way}")
            ys.append(y)
            any_floor |= bool((np.asarray(g) < GRAD_FLOOR).any())
            fig.add_trace(go.Scatter(
                x=np.arange(len(y)), y=y, mode="lines+markers", name=f"{label} ‖dL/d{q}<sub>t</sub>‖{way}",
                text=text, hovertemplate="t=%{x} %{text}<extra>" + label + "</extra>",
                line=dict(color=color, width=width, dash=dash), marker=dict(size=6)))
    _highlight(fig, highlight_t, filled=True)
    style(fig, "How much the loss depends on each earlier timestep", 460)
    if any_floor:
        fig.add_annotation(x=1, xref="paper", y=0, yref="paper", xanchor="right", yanchor="bottom", showarrow=False,
                           text=f"points at {GRAD_FLOOR:.0e}: gradient exactly 0 (vanished)", font=dict(size=16),
                           bgcolor="rgba(255,255,255,0.85)")
    first = next(iter(traces.values()), None)
    same = first is not None and all(t.tokens == first.tokens for t in traces.values())
    fig.update_xaxes(title_text="timestep t (input token)", **(_token_ticks(first.tokens) if same else {}))
    fig.update_yaxes(title_text="‖dL/dh<sub>t</sub>‖ (log scale)", type="log", **_log_ticks(ys))
    return fig


def gradient_history_heatmap(steps: list[int], grads: np.ndarray, title: str = "") -> go.Figure:
    """log10 ‖dL/dh_t‖ by training step (y) and timestep (x), fixed range 1e-12..1 (beyond is saturated)."""
    g = np.asarray(grads, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != len(steps):
        raise ValueError(f"grads must have shape (len(steps), T) = ({len(steps)}, T), got {g.shape}.")
    sc = SCALES["log_grad"]
    ticks = np.arange(sc.zmin, sc.zmax + 1, 3)
    fig = figure(go.Heatmap(
        z=np.log10(np.maximum(g, GRAD_FLOOR)), x=np.arange(g.shape[1]), y=np.asarray(steps), customdata=g,
        zmin=sc.zmin, zmax=sc.zmax, colorscale=sc.colorscale,
        hovertemplate="step %{y}, t=%{x}<br>‖dL/dh<sub>t</sub>‖ = %{customdata:.3e}<extra></extra>",
        colorbar=dict(title=dict(text="‖dL/dh<sub>t</sub>‖", side="right"), tickvals=ticks, thickness=22,
                      ticktext=[f"1e{int(v)}" if v else "1" for v in ticks], tickfont=dict(size=16))))
    style(fig, title or "Gradient reaching each timestep, as training goes on", 460)
    fig.update_xaxes(title_text="timestep t", showgrid=False)
    fig.update_yaxes(title_text="training step", showgrid=False)
    return fig


# -- 7. series ----------------------------------------------------------------------------------------------------
def series_overlay(t_values: np.ndarray, inputs: np.ndarray, targets: np.ndarray, predictions: dict[str, np.ndarray],
                   forecast: dict[str, np.ndarray] | None = None, y_title: str = "value") -> go.Figure:
    """Input, target and each model's prediction on one time axis; free-running forecasts continue dashed."""
    t = np.asarray(t_values, dtype=np.float64).reshape(-1)
    fig = figure()
    fig.add_trace(go.Scatter(x=t, y=np.asarray(inputs).reshape(-1), mode="lines", name="input",
                             line=dict(color="#999999", width=3)))
    fig.add_trace(go.Scatter(x=t, y=np.asarray(targets).reshape(-1), mode="lines", name="target",
                             line=dict(color="#000000", width=3, dash="dot")))
    for k, (name, p) in enumerate(predictions.items()):
        label, color, _ = _model(name, k=k)
        fig.add_trace(go.Scatter(x=t, y=np.asarray(p).reshape(-1), mode="lines", name=f"{label} prediction",
                                 legendgroup=name, line=dict(color=color, width=4)))
    if forecast:
        dt = t[-1] - t[-2] if len(t) > 1 else 1.0
        for k, (name, f) in enumerate(forecast.items()):
            label, color, _ = _model(name, k=list(predictions).index(name) if name in predictions else k)
            f = np.asarray(f).reshape(-1)
            fig.add_trace(go.Scatter(x=t[-1] + dt * np.arange(1, len(f) + 1), y=f, mode="lines",
                                     name=f"{label} forecast", legendgroup=name,
                                     line=dict(color=color, width=4, dash="dash")))
        fig.add_vline(x=t[-1], line=dict(color="#555555", width=2, dash="dot"))
        fig.add_annotation(x=t[-1], y=1, yref="paper", yanchor="bottom", xanchor="left", showarrow=False,
                           text=" forecast (own outputs fed back) \u2192", font=dict(size=16))
    style(fig, "", 440)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(title_text="timestep t")
    fig.update_yaxes(title_text=y_title)
    return fig


# -- 8. one LSTM cell ---------------------------------------------------------------------------------------------
def _wire(fig: go.Figure, points: list[tuple[float, float]], color: str = "#444444", width: int = 3,
          arrow: bool = True, at: float = 0.5) -> None:
    """A polyline in data coordinates, with an arrowhead at fraction `at` of its last segment."""
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        fig.add_shape(type="line", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color=color, width=width), layer="below")
    if arrow:  # the tail is a pixel offset from the head, so the arrow never paints over the boxes it joins
        (x0, y0), (x1, y1) = points[-2], points[-1]
        fig.add_annotation(x=x0 + at * (x1 - x0), y=y0 + at * (y1 - y0), showarrow=True,
                           ax=-12 * np.sign(x1 - x0), ay=12 * np.sign(y1 - y0), arrowhead=2, text="",
                           arrowsize=1.0 if width > 4 else 1.3, arrowwidth=min(width, 4), arrowcolor=color)


def _box(fig: go.Figure, x: float, y: float, text: str, color: str = "#444444", size: int = 18) -> None:
    """A label in a bordered box that sizes itself to its text (so text is never clipped)."""
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font=dict(size=size, color=INK), align="center",
                       bgcolor=_tint(color) if color != "#444444" else "#ffffff", bordercolor=color,
                       borderwidth=3, borderpad=6)


def _node(fig: go.Figure, x: float, y: float, op: str) -> None:
    """A pointwise operation: a circle of fixed pixel size with × or +."""
    fig.add_shape(type="circle", xsizemode="pixel", ysizemode="pixel", xanchor=x, yanchor=y, x0=-20, x1=20,
                  y0=-20, y1=20, line=dict(color="#000000", width=3), fillcolor="#ffffff")
    fig.add_annotation(x=x, y=y, text=f"<b>{op}</b>", showarrow=False, font=dict(size=24, color="#000000"))


def cell_diagram(v: dict[str, float], title: str | None = None) -> go.Figure:
    """One LSTM cell, for one unit at one timestep, with the real numbers on every part.

    Keys of v: x (the input token, a string), h_prev, c_prev, a_i, a_f, a_g, a_o (pre-activations), i, f, g, o,
    c, h. The cell state runs along the top as a conveyor belt: c_t = f·c_{t-1} + i·g, and h_t = o·tanh(c_t).
    """
    fig = figure()
    belt, gates, bus, mid = 7.6, 3.4, 1.3, 5.5
    xf, xi, xg, xo, xout = 4.0, 6.5, 9.0, 11.5, 13.5
    xig = (xi + xg) / 2
    # the conveyor belt
    _wire(fig, [(1.9, belt), (xig, belt), (14.4, belt)], color=_color("c"), width=7)
    _box(fig, 1.0, belt, f"c<sub>t\u22121</sub><br>{fmt(v['c_prev'])}", _color("c"))
    _box(fig, 15.2, belt, f"<b>c<sub>t</sub></b><br>{fmt(v['c'])}", _color("c"))
    # inputs on the bus: h_{t-1} from the left, x_t from below
    _wire(fig, [(1.9, bus), (xo, bus)], arrow=False)
    _box(fig, 1.0, bus, f"h<sub>t\u22121</sub><br>{fmt(v['h_prev'])}", _color("h"))
    _wire(fig, [(2.8, 0.2), (2.8, bus)])
    _box(fig, 2.8, 0.2, f"x<sub>t</sub> = {token_label(str(v['x']))}")
    # four gates, each fed from the bus
    for q, xq, fn, name in (("f", xf, "\u03c3", "forget"), ("i", xi, "\u03c3", "input"),
                            ("g", xg, "tanh", "candidate"), ("o", xo, "\u03c3", "output")):
        _wire(fig, [(xq, bus), (xq, gates)])
        _box(fig, xq, gates, f"<b>{q}</b> {name}<br>{fn}({fmt(v['a_' + q])})<br>= <b>{fmt(v[q])}</b>", _color(q))
    # forget: f × c_{t-1} on the belt
    _wire(fig, [(xf, gates), (xf, belt)])
    _node(fig, xf, belt, "\u00d7")
    fig.add_annotation(x=xf, y=belt + 0.9, text=f"f\u00b7c<sub>t\u22121</sub> = {fmt(v['f'] * v['c_prev'])}",
                       showarrow=False, font=dict(size=18))
    # input: i × g, added to the belt
    _wire(fig, [(xi, gates), (xi, mid), (xig, mid)])
    _wire(fig, [(xg, gates), (xg, mid), (xig, mid)])
    _wire(fig, [(xig, mid), (xig, belt)])
    _node(fig, xig, mid, "\u00d7")
    _node(fig, xig, belt, "+")
    fig.add_annotation(x=xig, y=belt + 0.9, text=f"+ i\u00b7g = {fmt(v['i'] * v['g'])}", showarrow=False,
                       font=dict(size=18))
    # output: h_t = o × tanh(c_t)
    _wire(fig, [(xout, belt), (xout, mid)])
    _box(fig, xout, mid, f"tanh(c<sub>t</sub>)<br>= {fmt(math.tanh(v['c']))}", _color("c"))
    _wire(fig, [(xout, mid), (xout, gates)])
    _wire(fig, [(xo, gates), (xout, gates)])
    _node(fig, xout, gates, "\u00d7")
    _wire(fig, [(xout, gates), (14.4, gates)], color=_color("h"), width=4, at=0.8)
    _box(fig, 15.2, gates, f"<b>h<sub>t</sub></b><br>{fmt(v['h'])}", _color("h"))
    fig.add_annotation(x=15.9, y=0.2, xanchor="right", showarrow=False, font=dict(size=18, color="#444444"),
                       text="c<sub>t</sub> = f\u00b7c<sub>t\u22121</sub> + i\u00b7g"
                            "     h<sub>t</sub> = o\u00b7tanh(c<sub>t</sub>)")
    fig.add_annotation(x=(xf + xi) / 2, y=bus, yanchor="top", showarrow=False, font=dict(size=16, color="#444444"),
                       text="h<sub>t\u22121</sub> and x<sub>t</sub> feed all four gates")
    style(fig, title if title is not None else "One LSTM cell, one unit, one timestep", 640)
    fig.update_xaxes(range=[0, 16], visible=False, fixedrange=True)
    fig.update_yaxes(range=[-0.4, 9.3], visible=False, fixedrange=True)
    fig.update_layout(showlegend=False, margin=dict(l=10, r=10, t=60, b=10), dragmode=False)
    return fig


# -- 9. text coloured by a unit -----------------------------------------------------------------------------------
def text_heat_html(chars: list[str], values: np.ndarray, vmin: float, vmax: float, scale: str = "RdBu") -> str:
    """HTML: one span per character, its background the value's colour, its title the exact value.

    Every character is escaped (uploaded text is data, never markup); a newline shows as ↵ and breaks the line;
    U+FFFD, what the text model reads for a character outside its vocabulary, is outlined and titled so.
    With the default "RdBu", blue = high (positive) and red = low, as on the heatmaps.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(chars) != len(values):
        raise ValueError(f"chars and values differ in length: {len(chars)} and {len(values)}.")
    span = (vmax - vmin) or 1.0
    pos = np.clip((np.nan_to_num(values, nan=(vmin + vmax) / 2) - vmin) / span, 0.0, 1.0)
    colors = pcolors.sample_colorscale(pcolors.get_colorscale(scale), pos.tolist()) if len(pos) else []
    out = ['<div style="font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 22px; line-height: 1.7;'
           ' white-space: pre-wrap; word-break: break-all;">']
    for ch, v, col in zip(chars, values, colors, strict=True):
        shown = "\u21b5" if ch == "\n" else ch
        # a character outside the model's vocabulary is read as U+FFFD: say so, and outline it
        title, box = (f"{v:.4f}: a character outside the vocabulary", " outline: 1px dashed;") if ch == "\ufffd" \
            else (f"{v:.4f}", "")
        out.append(f'<span title="{html.escape(title)}" style="background-color: {col}; color: {_ink(col)};'
                   f' padding: 1px 0;{box}">{html.escape(shown)}</span>' + ("<br>" if ch == "\n" else ""))
    out.append("</div>")
    return "".join(out)


# -- 10-11. small summaries ---------------------------------------------------------------------------------------
def spectral_bar(radii: dict[str, float]) -> go.Figure:
    """Spectral radius of each model's recurrent matrix, with the line ρ = 1."""
    styles = [_model(n, k=k) for k, n in enumerate(radii)]
    vals = [float(r) for r in radii.values()]
    fig = figure(go.Bar(x=[s[0] for s in styles], y=vals, marker_color=[s[1] for s in styles],
                           text=[fmt(r, 2) for r in vals], textposition="outside", textfont=dict(size=18),
                           cliponaxis=False,
                           hovertemplate="%{x}: ρ = %{y:.4f}<extra></extra>"))
    hline(fig, 1.0, "ρ = 1")
    style(fig, "Spectral radius of the recurrent weights W<sub>hh</sub>", 360)
    fig.update_xaxes(title_text="model")
    fig.update_yaxes(title_text="ρ(W<sub>hh</sub>), largest |eigenvalue|", range=[0, max([1.2, *vals]) * 1.2])
    return fig


def sweep_heatmap(df: pd.DataFrame) -> go.Figure:
    """Success rate by model (rows) and time lag (columns), each cell labelled 'solved/runs'.

    df has one row per run with columns model, lag, solved (0/1), seconds.
    """
    g = df.groupby(["model", "lag"]).agg(solved=("solved", "sum"), runs=("solved", "size")).reset_index()
    order = {m: k for k, m in enumerate(CELLS)}
    models = sorted(g["model"].unique(), key=lambda m: (order.get(m, 99), str(m)))
    lags = sorted(g["lag"].unique())
    solved = g.pivot(index="model", columns="lag", values="solved").reindex(index=models, columns=lags)
    runs = g.pivot(index="model", columns="lag", values="runs").reindex(index=models, columns=lags)
    rate = (solved / runs).to_numpy(dtype=np.float64)
    text = [[f"{int(s)}/{int(r)}" if r == r else "" for s, r in zip(sr, rr, strict=True)]
            for sr, rr in zip(solved.to_numpy(), runs.to_numpy(), strict=True)]
    sc = SCALES["rate"]
    fig = figure(go.Heatmap(
        z=rate, x=[str(lag) for lag in lags], y=[_model(m)[0] for m in models], text=text,
        texttemplate="%{text}", textfont=dict(size=20), zmin=sc.zmin, zmax=sc.zmax, colorscale=sc.colorscale,
        xgap=3, ygap=3, hovertemplate="%{y}, lag %{x}: %{text} runs solved<extra></extra>",
        colorbar=dict(title=dict(text="solved", side="right"), tickformat=".0%", thickness=22)))
    style(fig, "Runs that solved the task, by time lag", 200 + 70 * len(models))
    fig.update_xaxes(title_text="time lag (timesteps)", type="category", showgrid=False)
    fig.update_yaxes(title_text="model", showgrid=False, autorange="reversed")
    return fig


# -- 12. numbers behind a chart, colour legends ---------------------------------------------------------------------
def table(fig: go.Figure) -> pd.DataFrame:
    """The numbers a figure draws, as a table (the text twin of a chart): for lines and bars, one row per x and
    one column per series; for a heatmap, one row per y and one column per x."""
    import pandas as pd

    heat = [d for d in fig.data if d.type == "heatmap"]
    if heat:
        frames = []
        for d in heat:
            z = np.asarray(d.z, dtype=np.float64)
            df = pd.DataFrame(z, columns=[f"t={int(x)}" if isinstance(x, (int, np.integer)) else str(x)
                                          for x in (d.x if d.x is not None else range(z.shape[1]))])
            df.insert(0, "row", list(d.y if d.y is not None else range(z.shape[0])))
            df.insert(0, "quantity", d.name or "")
            frames.append(df)
        return pd.concat(frames, ignore_index=True)
    cols: dict[str, pd.Series] = {}
    for k, d in enumerate(fig.data):
        if d.type not in ("scatter", "bar") or d.y is None:
            continue
        name = html.unescape(str(d.name or f"series {k + 1}")).replace("<sub>", "").replace("</sub>", "")
        x = list(d.x) if d.x is not None else list(range(len(d.y)))
        cols[name] = pd.Series(np.asarray(d.y, dtype=np.float64), index=x)
    out = pd.DataFrame(cols)
    out.index.name = fig.layout.xaxis.title.text or "x"
    return out.reset_index()


def scale_legend_html(vmin: float, vmax: float, scale: str, label: str) -> str:
    """A colour bar in HTML for coloured text: the scale from vmin to vmax, its ends and middle written out."""
    stops = pcolors.sample_colorscale(pcolors.get_colorscale(scale), [k / 10 for k in range(11)])
    grad = ", ".join(stops)
    mid = (vmin + vmax) / 2
    return ('<div style="display:flex; align-items:center; gap:12px; font-size:18px; margin:6px 0;">'
            f'<span>{html.escape(label)}:</span><span>{fmt(vmin, 2)}</span>'
            '<span style="display:inline-block; width:320px; height:20px; border:1px solid #444; '
            f'background:linear-gradient(to right, {grad});"></span><span>{fmt(vmax, 2)}</span>'
            f'<span style="color:#555">(middle {fmt(mid, 2)})</span></div>')


# -- 13. saturation, surgery ----------------------------------------------------------------------------------------
def saturation_curves(sat) -> go.Figure:
    """Share of gate values below 0.1 (dashed) and above 0.9 (solid) on the display sequence, over training."""
    fig = figure()
    x = np.asarray(sat.steps)
    for j, q in enumerate(sat.gates):
        col = QUANTITIES[q].color
        fig.add_trace(go.Scatter(x=x, y=sat.high[:, j], mode="lines+markers", name=f"{q} above 0.9",
                                 line=dict(color=col, width=4), marker=dict(size=8)))
        fig.add_trace(go.Scatter(x=x, y=sat.low[:, j], mode="lines+markers", name=f"{q} below 0.1",
                                 line=dict(color=col, width=3, dash="dash"), marker=dict(size=8, symbol="x")))
    style(fig, "Saturated gates over training", 420)
    fig.update_xaxes(title_text="training step (snapshots)")
    fig.update_yaxes(title_text="share of gate values", range=[-0.02, 1.02], tickformat=".0%")
    return fig


def saturation_units(sat) -> go.Figure:
    """Each unit at one step: share of timesteps its gate is below 0.1 (x) and above 0.9 (y), one colour per gate
    (Karpathy, Johnson and Fei-Fei's left- and right-saturated units)."""
    fig = figure()
    symbols = ("circle", "square", "diamond", "triangle-up", "cross")
    for j, q in enumerate(sat.gates):
        fig.add_trace(go.Scatter(
            x=sat.unit_low[:, j], y=sat.unit_high[:, j], mode="markers", name=QUANTITIES[q].label,
            customdata=np.arange(sat.unit_low.shape[0]),
            marker=dict(color=QUANTITIES[q].color, size=12, symbol=symbols[j % len(symbols)], opacity=0.85),
            hovertemplate="unit %{customdata}: below 0.1 %{x:.0%}, above 0.9 %{y:.0%}<extra>" + q + "</extra>"))
    fig.add_shape(type="line", x0=0, y0=1, x1=1, y1=0, line=dict(color="#999999", width=2, dash="dot"))
    style(fig, f"Each unit at step {sat.step:,}: how often its gate is shut or open", 460)
    fig.update_xaxes(title_text="share of timesteps below 0.1 (left-saturated)", range=[-0.03, 1.03], tickformat=".0%")
    fig.update_yaxes(title_text="share above 0.9 (right-saturated)", range=[-0.03, 1.03], tickformat=".0%")
    return fig


def surgery_lines(before: Trace, after: Trace, units: list[int], quantity: str = "c", layer: int = 0,
                  span: tuple[int, int] | None = None) -> go.Figure:
    """One state of some units over time, as trained (solid) and with the clamps held (dashed); the clamped span
    shaded."""
    fig = figure()
    tokens = [token_label(t) for t in before.tokens]
    for k, u in enumerate(units):
        col = EXTRA_COLORS[k % len(EXTRA_COLORS)] if k else QUANTITIES[quantity].color
        for tr, dash, what in ((before, "solid", "as trained"), (after, "dash", "with the clamp")):
            fig.add_trace(go.Scatter(x=np.arange(before.steps), y=tr.quantity(quantity, layer)[:, u], mode="lines",
                                     name=f"unit {u}, {what}", customdata=tokens, legendgroup=str(u),
                                     line=dict(color=col, width=4 if dash == "solid" else 3, dash=dash),
                                     hovertemplate="t=%{x} %{customdata}: %{y:.3f}<extra>unit " + str(u) + "</extra>"))
    if span is not None:
        fig.add_vrect(x0=span[0] - 0.5, x1=min(span[1], before.steps) - 0.5, fillcolor="rgba(0,0,0,0.08)",
                      line_width=0, annotation_text="clamped", annotation_position="top left")
    style(fig, f"{QUANTITIES[quantity].label} of the chosen units: as trained and with the clamp", 460)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(title_text="timestep t (input token)", **_token_ticks(before.tokens))
    fig.update_yaxes(title_text=QUANTITIES[quantity].label)
    return fig


def memory_bars(mu) -> go.Figure:
    """Each unit's held-out guess of the cue from its state during the delay, best first, with chance drawn."""
    order = list(mu.order)
    acc = np.asarray(mu.accuracy)[order]
    fig = figure(go.Bar(x=[str(u) for u in order], y=acc, marker_color=QUANTITIES[mu.quantity].color,
                        hovertemplate="unit %{x}: %{y:.1%}<extra></extra>", name="guess of the cue"))
    hline(fig, mu.chance, f"chance = {mu.chance:.1%}")
    style(fig, f"Where the memory is: each unit's guess of the cue from its {mu.quantity} over the delay", 380)
    fig.update_xaxes(title_text="unit (best first)", type="category")
    fig.update_yaxes(title_text="held-out accuracy", range=[0, 1.05], tickformat=".0%")
    return fig


# -- 13. the lag race: a sweep over lags, models and seeds (lstm_core.sweep.RaceCell) ----------------------------
RACE_MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "star")  # a second cue besides colour
RATIO_FLOOR = 1e-40  # a cue-gradient ratio of exactly 0 (float32 underflow) is drawn here on the log axis


def _race_model(name: str, k: int) -> tuple[str, str, str, str]:
    """(label, colour, dash, marker symbol) of a model in the lag race: the cell registry's, or the k-th extra."""
    label, color, dash = _model(name, k=k)
    return label, color, dash, RACE_MARKERS[k % len(RACE_MARKERS)]


def _race_models(cells: dict, models: list[str]) -> list[tuple[int, str, list]]:
    """(k, model, its cells by lag) for each model that has cells, k its place in `models` (colour and marker)."""
    out = []
    for k, m in enumerate(models):
        mine = sorted((c for (cm, _), c in cells.items() if cm == m), key=lambda c: c.lag)
        if mine:
            out.append((k, m, mine))
    return out


def _lag_axis(fig: go.Figure, lags: list[int], min_gap: float = 0.0, **kw: Any) -> None:
    """A log axis with a tick at each chosen lag, spanning them all (a lag still being computed has its place);
    on a narrow axis (`min_gap` > 0, in decades) a label closer than that to the next longer labelled lag is left
    out, the longest first, so the labels never overlap."""
    span = [math.log10(min(lags)) - 0.1, math.log10(max(lags)) + 0.1] if lags else None
    text, last = {}, math.inf
    for v in sorted(lags, reverse=True):
        keep = math.log10(last / v) >= min_gap
        text[v] = str(v) if keep else ""
        last = v if keep else last
    fig.update_xaxes(title_text="time lag T (timesteps, log scale)", type="log", tickmode="array", range=span,
                     tickvals=list(lags), ticktext=[text[v] for v in lags], tickangle=0, **kw)


def _race_style(fig: go.Figure, title: str, subtitle: str, height: int = 440) -> None:
    """The house look with a second, smaller title line that says what the points and bars are."""
    style(fig, title, height)
    # room for the subtitle, and for the legend even with one model (style() leaves it out for a single series)
    fig.update_layout(title_subtitle=dict(text=subtitle, font=dict(size=16)), showlegend=True, margin_t=145)


def race_success(cells: dict, models: list[str], lags: list[int]) -> go.Figure:
    """Share of seeds that reached the target, against lag, one line per model; hover gives 'solved/runs'."""
    fig = figure()
    for k, m, mine in _race_models(cells, models):
        label, color, dash, symbol = _race_model(m, k)
        fig.add_trace(go.Scatter(
            x=[c.lag for c in mine], y=[c.rate for c in mine], name=label, mode="lines+markers",
            customdata=[[c.n_solved, c.runs] for c in mine], line=dict(color=color, width=4, dash=dash),
            marker=dict(size=13, symbol=symbol, color=color),
            hovertemplate=f"{label}, lag %{{x}}: %{{customdata[0]}} of %{{customdata[1]}} seeds solved<extra></extra>"))
    hline(fig, 0.5, "half the seeds")
    _race_style(fig, "Seeds that reached the target", "share of the seeds run; hover a point for the counts")
    _lag_axis(fig, lags)
    fig.update_yaxes(title_text="seeds solved", range=[-0.05, 1.08], tickformat=".0%")
    return fig


def race_steps(cells: dict, models: list[str], lags: list[int]) -> go.Figure:
    """Steps to the target against lag: the median over the seeds that reached it, with bars from the fastest to
    the slowest of them; a lag where no seed reached it has no point."""
    fig = figure()
    ys = []
    for k, m, mine in _race_models(cells, models):
        label, color, dash, symbol = _race_model(m, k)
        ok = [c for c in mine if c.n_solved]
        med = [float(np.median(c.solved_steps)) for c in ok]
        lo = [min(c.solved_steps) for c in ok]
        hi = [max(c.solved_steps) for c in ok]
        ys += [lo, hi]
        fig.add_trace(go.Scatter(
            x=[c.lag for c in ok], y=med, name=label, mode="lines+markers",
            error_y=dict(type="data", symmetric=False, array=[h - y for h, y in zip(hi, med, strict=True)],
                         arrayminus=[y - v for y, v in zip(med, lo, strict=True)], thickness=2.5, width=8,
                         color=color),
            customdata=[[c.n_solved, c.runs, a, b] for c, a, b in zip(ok, lo, hi, strict=True)],
            line=dict(color=color, width=4, dash=dash), marker=dict(size=13, symbol=symbol, color=color),
            hovertemplate=(f"{label}, lag %{{x}}: median %{{y:,.0f}} steps over the %{{customdata[0]}} of "
                           "%{customdata[1]} seeds that solved it (%{customdata[2]:,}–%{customdata[3]:,})"
                           "<extra></extra>")))
    _race_style(fig, "Steps to the target", "median of the seeds that reached it; bars: fastest to slowest")
    _lag_axis(fig, lags)
    fig.update_yaxes(title_text="training steps (log scale)", type="log", **_log_ticks(ys))
    return fig


def race_cue(cells: dict, models: list[str], lags: list[int]) -> go.Figure:
    """‖dL/dh_0‖ / ‖dL/dh_T‖ against lag, at step 0 (left) and at the end of the runs (right), log scale: the
    median over seeds with bars from the smallest to the largest seed; a ratio of exactly 0 (underflow of float32)
    is drawn at RATIO_FLOOR and the hover says so."""
    fig = subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05)
    ys, any_floor = [], False
    for col, when in ((1, "0"), (2, "end")):
        for k, m, mine in _race_models(cells, models):
            label, color, dash, symbol = _race_model(m, k)
            pts = [(c.lag, [v for v in c.cue(when) if v == v]) for c in mine]  # v == v: drop NaN (not measured)
            pts = [(lag, vals) for lag, vals in pts if vals]
            med = [float(np.median(v)) for _, v in pts]
            lo = [min(v) for _, v in pts]
            hi = [max(v) for _, v in pts]
            any_floor |= any(v < RATIO_FLOOR for v in lo)
            y, ylo, yhi = (np.maximum(a, RATIO_FLOOR) for a in (np.asarray(med), np.asarray(lo), np.asarray(hi)))
            ys.append(np.concatenate([ylo, yhi]) if len(pts) else np.ones(0))
            text = [f"median {a:.3g} over {len(v)} seeds (smallest {b:.3g}, largest {c:.3g})"
                    + (" — 0: the gradient underflowed float32" if a < RATIO_FLOOR else "")
                    for (_, v), a, b, c in zip(pts, med, lo, hi, strict=True)]
            fig.add_trace(go.Scatter(
                x=[lag for lag, _ in pts], y=y, name=label, mode="lines+markers", showlegend=col == 1,
                legendgroup=m, text=text, line=dict(color=color, width=4, dash=dash),
                marker=dict(size=13, symbol=symbol, color=color),
                error_y=dict(type="data", symmetric=False, array=yhi - y, arrayminus=y - ylo, thickness=2.5,
                             width=8, color=color),
                hovertemplate=f"{label}, lag %{{x}}: %{{text}}<extra></extra>"), row=1, col=col)
    floor = f"; at {RATIO_FLOOR:.0e}: exactly 0 (underflow)" if any_floor else ""
    _race_style(fig, "Gradient reaching the cue: ‖dL/dh<sub>0</sub>‖ / ‖dL/dh<sub>T</sub>‖",
                "median over seeds; bars: smallest to largest" + floor, 480)
    for col, when in ((1, "at step 0"), (2, "after training")):
        _lag_axis(fig, lags, min_gap=0.15, row=1, col=col)
        fig.update_xaxes(title_text=f"lag T, {when} (log scale)", row=1, col=col)
    fig.update_yaxes(type="log", **_log_ticks(ys))
    fig.update_yaxes(title_text="ratio (log scale)", row=1, col=1)
    return fig
