"""Lag race: for each model, against the time lag, the share of seeds that learn long-lag recall, the steps they
need, and the gradient that reaches the cue, ‖dL/dh_0‖ / ‖dL/dh_T‖, before and after training.

Drawn at once from the shipped sweep (datasets/lag_race.csv, made by `make lag-race`); a chosen run the file does
not hold is computed live, one worker job per run, with the file's own settings. Every sentence about the results
is computed from the runs drawn.
"""

from __future__ import annotations

import statistics

import streamlit as st

from lstm_core import figures, sweep
from lstm_core.cells import CELLS
from lstm_core.errors import ConfigError, DataError, WorkerError
from pages import frame, session, ui

frame.ensure_router()
st.title("Lag race")
session.open_link_here()  # a shared link opened here is built, or refused in one sentence, here

LAG_OPTIONS = (5, 10, 15, 20, 30, 50, 75, 100, 150, 200)  # lags a learner may pick (besides the file's own)
SEED_OPTIONS = tuple(range(10))


@st.cache_data(show_spinner=False)
def shipped(path: str, mtime: float) -> list[dict]:
    """The shipped sweep's rows (read again when the file changes)."""
    return sweep.read_rows(path)


try:
    rows = shipped(str(sweep.SHIPPED), sweep.SHIPPED.stat().st_mtime)
    base = sweep.base_run(rows)
except (OSError, KeyError, ValueError, IndexError, ConfigError) as e:
    st.error(f"The shipped results ({sweep.SHIPPED.name}) cannot be read ({ui.plain(str(e))}); "
             "make them again with 'make lag-race'.")
    st.stop()

tr = base.train
clock = "CPU time of its thread" if tr.clock == "cpu" else "wall time"
budget = f"{tr.max_seconds:g} s of {clock} or {tr.steps:,} steps" if tr.max_seconds else f"{tr.steps:,} steps"
target = f"{tr.target:.0%} held-out accuracy" if tr.target is not None else "its step budget"
st.markdown(
    f"Recall the first of T + 1 symbols ({base.task.alphabet} letters, chance {1 / base.task.alphabet:.1%}) for a "
    f"range of lags T. Each point is one model at one lag, trained once per seed with the same settings "
    f"({base.model.hidden} hidden units, batch {tr.batch}, Adam {tr.lr:g}, clipping at {tr.clip:g}, "
    f"{base.model.gate_init} gate initialisation for the LSTM) until it reaches {target} (checked every "
    f"{tr.val_every} steps) or runs out of its budget, {budget} per run. The shipped results "
    f"({len(rows)} runs, `make lag-race`) draw at once; a run you add is computed live.")

shipped_models = list(dict.fromkeys(r["model"] for r in rows))
model_options = shipped_models + [c for c in CELLS if c not in shipped_models]
shipped_lags = sorted({r["lag"] for r in rows})
shipped_seeds = sorted({r["seed"] for r in rows})
c1, c2, c3 = st.columns([3, 2, 2])
lags = sorted(c1.multiselect("Lags T", sorted({*LAG_OPTIONS, *shipped_lags}), default=shipped_lags, key="lr_lags"))
chosen = c2.multiselect("Models", model_options, default=shipped_models, key="lr_models", format_func=ui.model_label)
models = [m for m in model_options if m in chosen]
seeds = sorted(c3.multiselect("Seeds", sorted({*SEED_OPTIONS, *shipped_seeds}), default=shipped_seeds,
                              key="lr_seeds"))

live: dict = st.session_state.setdefault("lr_live", {})  # (model, lag, seed) -> row computed in this session
all_rows = rows + list(live.values())
missing = sweep.missing_cells(all_rows, models, lags, seeds)
queue: list = st.session_state.setdefault("lr_queue", [])


def _start_live() -> None:
    st.session_state.lr_queue = list(missing)
    st.session_state.lr_queue_total = len(missing)
    st.session_state.pop("lr_error", None)


def _stop_live() -> None:
    st.session_state.lr_queue = []


def cell_name(m: str, lag: int, s: int) -> str:
    return f"{ui.model_label(m)}, lag {lag}, seed {s}"


if st.session_state.get("lr_error"):
    st.error(ui.plain(st.session_state.lr_error))
if queue:
    total = st.session_state.get("lr_queue_total", len(queue))
    done = total - len(queue)
    st.progress(done / total, text=f"Computing run {done + 1} of {total} live: {cell_name(*queue[0])} (at most "
                f"{budget}); the charts fill in as each run ends.")
    st.button("Stop", key="lr_stop", on_click=_stop_live)
elif missing and lags and models and seeds:
    n_runs = len(lags) * len(models) * len(seeds)
    shown = "; ".join(cell_name(*c) for c in missing[:4]) + ("; …" if len(missing) > 4 else "")
    st.info(f"{len(missing)} of the {n_runs} runs you chose {'is' if len(missing) == 1 else 'are'} not in the "
            f"shipped results ({shown}).")
    st.button(f"Compute the {len(missing)} missing run{'s' * (len(missing) != 1)} live", key="lr_compute",
              type="primary", on_click=_start_live,
              help=f"One run at a time on the server's workers, each with the shipped results' settings, at most "
              f"{budget}. A run someone already computed with the same settings comes back at once.")

cells = sweep.race_cells(all_rows, models, lags, seeds)
if not (lags and models and seeds):
    st.info("Choose at least one lag, one model and one seed.")
elif not cells:
    st.info("None of the chosen runs has been computed yet: compute them live above.")
show_tables = st.toggle("Show the numbers of each chart as a table", key="lr_tables")
drawn_models = [m for m in models if any(cm == m for cm, _ in cells)]


def cells_of(m: str) -> list:
    return sorted((c for (cm, _), c in cells.items() if cm == m), key=lambda c: c.lag)


def success_sentences() -> list[str]:
    reaches = {m: sweep.reach(cells, m) for m in drawn_models}
    cliff = [f"{ui.model_label(m)} {'none' if r.majority_up_to is None else r.majority_up_to}"
             for m, r in reaches.items()]
    out = ["The longest chosen lag solved by a majority of seeds (the cliff): " + ", ".join(cliff) + "."]
    for m in drawn_models:
        mine, r, label = cells_of(m), reaches[m], ui.model_label(m)
        if r.none_from is not None and r.none_from == mine[0].lag:
            out.append(f"The {label} solved no seed at any chosen lag.")
            continue
        parts = []
        if r.all_up_to is not None:
            parts.append(f"every seed at every lag up to {r.all_up_to}")
        if r.majority_up_to is None:
            parts.append("a majority of seeds at no chosen lag")
        elif r.majority_up_to != r.all_up_to:
            c = cells[(m, r.majority_up_to)]
            parts.append(f"a majority of seeds at no lag longer than {r.majority_up_to} ({c.n_solved} of {c.runs} "
                         "there)")
        if r.none_from is not None:
            parts.append(f"no seed at lag {r.none_from} or longer within the budget")
        out.append(f"The {label} solved " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "")
                   + parts[-1] + ".")
    return out


def steps_sentences() -> list[str]:
    out = []
    for m in drawn_models:
        ok = [c for c in cells_of(m) if c.n_solved]
        label = ui.model_label(m)
        if not ok:
            continue
        first, last = ok[0], ok[-1]
        med = [statistics.median(c.solved_steps) for c in (first, last)]
        if first is last:
            out.append(f"The {label} needed a median of {med[0]:,.0f} steps at lag {first.lag}, the only chosen lag "
                       "it solved.")
        else:
            out.append(f"The {label}'s median grew from {med[0]:,.0f} steps at lag {first.lag} to {med[1]:,.0f} at "
                       f"lag {last.lag} ({med[1] / med[0]:.1f} times as many), the longest lag it solved "
                       f"({last.n_solved} of {last.runs} seeds there).")
    return out


def _orders(v: float, first: bool) -> str:
    return ("falls" if v < 0 else "grows") + f" by {abs(v):.2g}" + (" orders of magnitude" if first else "")


def cue_sentences() -> list[str]:
    out, zeros = [], 0
    for m in drawn_models:
        fits = [(when, sweep.decay_fit(cells, m, w)) for w, when in (("0", "at step 0"), ("end", "after training"))]
        fits = [(when, f) for when, f in fits if f is not None]
        if not fits:
            continue
        zeros += sum(f.zeros for _, f in fits)
        said = " and ".join(f"{_orders(f.per_10, k == 0)} {when}" for k, (when, f) in enumerate(fits))
        spans = list(dict.fromkeys(f"{f.lags[0]}–{f.lags[-1]}" for _, f in fits))
        out.append(f"Per 10 steps of lag, the {ui.model_label(m)}'s cue gradient {said} (fit over lags "
                   f"{' and '.join(spans)}).")
    if out:
        out.append("The fits are least-squares lines through log10 of each run's ratio"
                   + (f"; {zeros} run measurements at exactly 0 cannot be on a log scale and are left out."
                      if zeros else "."))
    longest = max((lag for _, lag in cells), default=None)
    at = [(m, cells[(m, longest)]) for m in drawn_models if (m, longest) in cells]
    at = [(m, c, [v for v in c.cue_end if v == v]) for m, c in at]
    at = [(m, c, v) for m, c, v in at if v]
    if at:
        said = []
        for m, _, v in at:
            zero = sum(x == 0 for x in v)
            text = f"{statistics.median(v):.2g}"
            if zero:
                text += f" ({zero} of {len(v)} seeds exactly 0: below float32's range)"
            said.append(f"{ui.model_label(m)} {text}")
        out.append(f"At lag {longest}, after training, the cue receives this fraction of the gradient at the "
                   "question (median over seeds): " + "; ".join(said) + ".")
    return out


def table(data: list[dict]) -> None:
    if show_tables:
        st.dataframe(data, hide_index=True, width="stretch")


def chart(fig, key: str, sentences: list[str], look_for: str) -> None:
    left, right = st.columns([2, 1])
    left.plotly_chart(fig, key=key, width="stretch", theme=None)
    with right:
        st.markdown("\n".join(f"- {s}" for s in sentences) or "–")
        ui.look_for(look_for)


if cells:
    st.subheader("Who learns to recall, and up to which lag")
    chart(figures.race_success(cells, models, lags), "lr_success", success_sentences(),
          "the share of seeds that reach the target, lag by lag, within the same budget for every model. Where "
          "a line falls from most seeds to none is that model's cliff: the longest lag it learns in time. A "
          "line that falls means the budget ran out before the model learned, which is not the same as never.")
    table([{"model": ui.model_label(c.model), "lag": c.lag, "seeds solved": c.n_solved, "seeds run": c.runs,
            "share": round(c.rate, 3)} for m in drawn_models for c in cells_of(m)])

    st.subheader("How long it takes")
    chart(figures.race_steps(cells, models, lags), "lr_steps", steps_sentences(),
          "the points are medians over the seeds that reached the target; each bar runs from the fastest to the "
          "slowest of them (a lag no seed solved has no point). A line that rises means longer lags cost more "
          "steps; a line that ends is the budget running out.")
    table([{"model": ui.model_label(c.model), "lag": c.lag, "seeds solved": c.n_solved,
            "median steps": float(statistics.median(c.solved_steps)) if c.n_solved else None,
            "fastest": min(c.solved_steps, default=None), "slowest": max(c.solved_steps, default=None)}
           for m in drawn_models for c in cells_of(m)])

    st.subheader("How much gradient reaches the cue")
    chart(figures.race_cue(cells, models, lags), "lr_cue", cue_sentences(),
          "the ratio is the size of the gradient at the first symbol (the cue) over its size at the question, "
          f"the median of {sweep.CUE_SEQUENCES} held-out sequences per run; points are medians over seeds, bars "
          "the smallest to the largest seed. On this log scale a straight falling line is exponential decay: a "
          "line that falls by orders of magnitude means the cue gets almost no learning signal at long lags. "
          "Compare the untrained panel with the trained one.")

    def _stats(c, when: str) -> dict:
        v = [x for x in c.cue(when) if x == x]
        name = "step 0" if when == "0" else "end"
        return {f"median at {name}": float(statistics.median(v)) if v else None,
                f"smallest at {name}": min(v, default=None), f"largest at {name}": max(v, default=None)}

    table([{"model": ui.model_label(c.model), "lag": c.lag, "seeds": c.runs, **_stats(c, "0"), **_stats(c, "end")}
           for m in drawn_models for c in cells_of(m)])

if lags and models and seeds:
    with st.expander("The same runs on the command line"):
        st.code(f"python -m lstm_core sweep --task {base.task.name} --models {','.join(models)} "
                f"--lags {','.join(map(str, lags))} --seeds {','.join(map(str, seeds))} "
                f"--alphabet {base.task.alphabet} "
                f"--hidden {base.model.hidden} --gate-init {base.model.gate_init} --batch {tr.batch} --lr {tr.lr:g} "
                f"--clip {tr.clip:g} --val-every {tr.val_every} --steps {tr.steps}"
                + (f" --max-seconds {tr.max_seconds:g}" if tr.max_seconds else "")
                + f" --clock {tr.clock}" + (f" --target {tr.target:g}" if tr.target is not None else "")
                + " --jobs 2 --out sweep.csv", language="bash", wrap_lines=True)
        st.caption("Each row of sweep.csv is one run, with the columns this page draws: stop (target = solved), "
                   "steps, cue_grad_0 and cue_grad_end.")

if queue:  # one live run per rerun: the charts above are on screen while it trains
    m, lag, s = queue[0]
    from lstm_core.pool.client import get_pool

    try:
        row = get_pool().job("sweep_cell", base=base, model=m, lag=lag, seed=s)
        live[(m, lag, s)] = row
        st.session_state.lr_queue = queue[1:]
    except (ConfigError, DataError, WorkerError, RuntimeError) as e:
        st.session_state.lr_error = f"The run {cell_name(m, lag, s)} could not be computed: {e}"
        st.session_state.lr_queue = []
    st.rerun()
