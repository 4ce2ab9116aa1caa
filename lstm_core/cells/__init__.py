"""The cell registry: every recurrent cell the app trains, with the words and colours every page uses for it.

Torch-free metadata, read by the settings form, the command line, links, figures and sentences alike. The code
of a cell (its fused layer, its gate-bias initialisation, and its equations step by step, forward and backward
through time, for `trace`) lives in its own module, named by `Cell.impl`; adding a cell is that module plus one
line in `CELLS`.

`QUANTITIES` names every gate and state a trace can hold, with its meaning, colour and range, so that the same
gate has the same name and colour on every page. A quantity that belongs to another (the right-to-left twin of a
bidirectional LSTM's gate, a peephole term and the gate it feeds) shares that one's colour, in another dash.

The registry also holds each cell's size (`Cell.params`) and work per training step (`Cell.step_flops`): the
per-session limits are checked from the settings alone, without torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Quantity:
    name: str  # key in a trace: "f"
    label: str  # short name: "forget gate f"
    title: str  # name with its meaning, for chart titles: "forget gate f (0 = drop, 1 = keep)"
    color: str  # line colour on every page (Okabe-Ito, or Paul Tol where Okabe-Ito runs out)
    dash: str  # line dash, a second cue besides colour
    range: str  # "gate" (a sigmoid, 0 to 1), "tanh" (-1 to 1) or "state" (unbounded)
    of: str = ""  # the quantity whose colour it shares (its left-to-right twin, the gate it feeds); "" if its own


QUANTITIES: dict[str, Quantity] = {q.name: q for q in (
    Quantity("i", "input gate i", "input gate i (0 = ignore, 1 = write)", "#E69F00", "dash", "gate"),
    Quantity("f", "forget gate f", "forget gate f (0 = drop, 1 = keep)", "#0072B2", "solid", "gate"),
    Quantity("g", "candidate g", "candidate g (value to write, -1 to 1)", "#009E73", "dot", "tanh"),
    Quantity("o", "output gate o", "output gate o (0 = hide, 1 = show)", "#CC79A7", "dashdot", "gate"),
    Quantity("c", "cell state c", "cell state c (the conveyor belt)", "#000000", "solid", "state"),
    Quantity("h", "hidden state h", "hidden state h (-1 to 1)", "#D55E00", "longdash", "tanh"),
    Quantity("r", "reset gate r", "reset gate r (0 = ignore old h, 1 = use it)", "#882255", "dash", "gate"),
    Quantity("z", "update gate z", "update gate z (0 = take new n, 1 = keep old h)", "#56B4E9", "solid", "gate"),
    Quantity("n", "candidate n", "candidate n (-1 to 1)", "#999933", "dot", "tanh"),
    # peephole LSTM: the part of a gate's pre-activation that reads the cell state (i, f the old one, o the new)
    Quantity("pi", "peephole into i", "peephole p_i·c_(t-1) into i (+ opens it, - closes it)", "#E69F00", "dot",
             "state", "i"),
    Quantity("pf", "peephole into f", "peephole p_f·c_(t-1) into f (+ keep, - drop)", "#0072B2", "dot", "state", "f"),
    Quantity("po", "peephole into o", "peephole p_o·c_t into o (+ show, - hide)", "#CC79A7", "dot", "state", "o"),
    # bidirectional LSTM: the LSTM that reads right to left; at position t it has read x_(T-1) .. x_t
    Quantity("i_rev", "input gate i, right to left", "input gate i, right to left (0 = ignore, 1 = write)",
             "#E69F00", "longdashdot", "gate", "i"),
    Quantity("f_rev", "forget gate f, right to left", "forget gate f, right to left (0 = drop, 1 = keep)",
             "#0072B2", "longdashdot", "gate", "f"),
    Quantity("g_rev", "candidate g, right to left", "candidate g, right to left (-1 to 1)", "#009E73",
             "longdashdot", "tanh", "g"),
    Quantity("o_rev", "output gate o, right to left", "output gate o, right to left (0 = hide, 1 = show)",
             "#CC79A7", "longdashdot", "gate", "o"),
    Quantity("c_rev", "cell state c, right to left", "cell state c, right to left (its conveyor belt runs "
             "backwards)", "#000000", "longdashdot", "state", "c"),
    Quantity("h_rev", "hidden state h, right to left", "hidden state h, right to left (-1 to 1)", "#D55E00",
             "longdashdot", "tanh", "h"),
    # attention over the RNN's own states: ctx is (T, H); a and e are time x time, row t looks at columns s <= t
    Quantity("ctx", "context ctx", "context ctx (the attention's average of earlier h, -1 to 1)", "#44AA99",
             "dashdot", "tanh"),
    Quantity("a", "attention a", "attention a of step t on step s (0 = ignores it, 1 = reads only it)", "#332288",
             "solid", "gate"),
    Quantity("e", "attention score e", "attention score e = q_t·k_s/√d, before the softmax", "#AA4499", "dash",
             "state"),
)}


@dataclass(frozen=True)
class Cell:
    name: str  # as in ModelConfig.cell, links and --model
    label: str  # how pages name it: "vanilla RNN"
    color: str  # its colour on every chart (Okabe-Ito)
    dash: str  # its line dash, a second cue besides colour
    gates: tuple[str, ...]  # the (T, H) quantities its trace holds besides h, in the order of its equations
    panel: tuple[str, ...]  # the quantities the Gates page shows, most telling first
    blocks: int  # gate blocks stacked in W_ih and W_hh (PyTorch's layout): LSTM 4 (i, f, g, o), GRU 3, RNN 1
    impl: str  # the module with its code: layer (torch), init_gates, forward and backward (numpy, for traces)
    about: str  # one sentence: what this cell does with its state
    surgery: bool = True  # its forward takes clamps (lstm_core/surgery.py)
    directions: int = 1  # 2: a second set of weights (PyTorch's `..._reverse`) reads the sequence right to left
    diagonal: int = 0  # weight vectors of one value per unit besides the blocks (the peephole's p_i, p_f, p_o)
    attention: bool = False  # causal dot-product attention over the layer's own states; it hands up [h; ctx]
    pairs: tuple[str, ...] = ()  # time x time quantities of its trace (attention a, e): LayerTrace.pairs

    @property
    def quantities(self) -> tuple[str, ...]:
        """Every (T, H) quantity of one unit over time: the gates, then h."""
        return (*self.gates, "h")

    @property
    def clampable(self) -> tuple[str, ...]:
        """What gate surgery may hold: its gates and its memory state (c, or h for cells without c)."""
        return self.gates if "c" in self.gates else (*self.gates, "h")

    @property
    def reads_future(self) -> bool:
        """Its output at t depends on inputs after t (refused on tasks whose targets are later inputs)."""
        return self.directions > 1

    def width(self, hidden: int) -> int:
        """Features a layer hands up (to the next layer or the readout): h, or [h; h_rev], or [h; ctx]."""
        return hidden * self.directions * (2 if self.attention else 1)

    def layer_params(self, input_size: int, hidden: int) -> int:
        """Weights and biases of one recurrent layer: W_ih, W_hh, b_ih, b_hh for each gate block and direction,
        the per-unit weights, and the attention's query (W_q, b_q) and key (W_k), d = hidden."""
        one_way = self.blocks * hidden * (input_size + hidden + 2) + self.diagonal * hidden
        return self.directions * one_way + (2 * hidden * hidden + hidden if self.attention else 0)

    def params(self, input_size: int, hidden: int, output_size: int, layers: int = 1) -> int:
        """Weights and biases of a whole model: its stacked layers and the readout Linear(width, output_size)."""
        sizes = [input_size] + [self.width(hidden)] * (layers - 1)
        return sum(self.layer_params(n, hidden) for n in sizes) + (self.width(hidden) + 1) * output_size

    def step_flops(self, input_size: int, hidden: int, output_size: int, layers: int, steps: int,
                   batch: int) -> float:
        """Floating-point operations of one training step: 6 x parameters x timesteps x batch (2 per parameter
        and token forward, 4 backward), plus the attention's scores and context, which grow as steps²:
        6 x batch x steps² x (d + hidden) per layer."""
        flops = 6.0 * self.params(input_size, hidden, output_size, layers) * steps * batch
        if self.attention:
            flops += layers * 6.0 * batch * steps**2 * (2 * hidden)
        return flops

    def module(self) -> ModuleType:
        return importlib.import_module(self.impl)


CELLS: dict[str, Cell] = {c.name: c for c in (
    Cell("lstm", "LSTM", "#0072B2", "solid", ("i", "f", "g", "o", "c"), ("f", "i", "g", "o", "c", "h"), 4,
         "lstm_core.cells.lstm", "a cell state c carried by the forget gate f, written through the input gate i, "
         "shown through the output gate o"),
    Cell("rnn", "vanilla RNN", "#D55E00", "dash", (), ("h",), 1, "lstm_core.cells.rnn",
         "one hidden state, rewritten at every step: h_t = tanh(W x_t + U h_(t-1) + b)"),
    Cell("gru", "GRU", "#009E73", "dot", ("r", "z", "n"), ("z", "r", "n", "h"), 3, "lstm_core.cells.gru",
         "one hidden state, kept by the update gate z (forget and input gates in one) or replaced by n"),
    Cell("peephole", "peephole LSTM", "#56B4E9", "dashdot", ("i", "f", "g", "o", "c", "pi", "pf", "po"),
         ("f", "i", "g", "o", "c", "h", "pf", "pi", "po"), 4, "lstm_core.cells.peephole",
         "an LSTM whose gates also see the cell state: i and f read c_(t-1), o reads the new c_t (Gers & "
         "Schmidhuber 2000)", diagonal=3, surgery=False),
    Cell("bilstm", "bidirectional LSTM", "#CC79A7", "longdash",
         ("i", "f", "g", "o", "c", "i_rev", "f_rev", "g_rev", "o_rev", "c_rev", "h_rev"),
         ("f_rev", "c_rev", "h_rev", "f", "c", "h", "i_rev", "g_rev", "o_rev", "i", "g", "o"), 4,
         "lstm_core.cells.bilstm", "two LSTMs, one reading left to right and one right to left; the answer at step "
         "t reads both, so it can depend on inputs that come later", directions=2, surgery=False),
    Cell("attention", "RNN + attention", "#E69F00", "longdashdot", ("ctx",), ("h", "ctx"), 1,
         "lstm_core.cells.attention", "a vanilla RNN whose answer at step t also reads ctx, an average of its "
         "states h_0 .. h_t weighted by attention a: a direct path to any earlier step", attention=True,
         pairs=("a", "e"), surgery=False),
)}


def label(name: str) -> str:
    """How pages name a model ("vanilla RNN"); any other key is its own label."""
    cell = CELLS.get(name)
    return cell.label if cell else name
