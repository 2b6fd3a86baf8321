"""Schematic diagrams of recurrent cells and graphs, drawn with matplotlib only.

- :func:`lstm_cell_diagram`: one LSTM step, gates ``i, f, g, o`` and states ``c``, ``h``.
- :func:`gru_cell_diagram`: one GRU step in PyTorch's form (reset gate after ``W_hn``),
  gates ``r, z`` and candidate ``n``.
- :func:`unrolled_graph_diagram`: a simple RNN unrolled over ``T`` steps, with the forward
  edges and, optionally, the backward (gradient) paths of backpropagation through time.

Each function draws on a new figure in the course style (or on an ``ax`` you pass) and returns
the :class:`~matplotlib.figure.Figure`. Every drawn element that a reader should be able to
name carries a ``gid`` (``"gate:f"``, ``"op:forget"``, ``"state:c_prev"``, ``"grad:h3->h2"``,
...), so tests and pages can find it. Symbols follow the notation page: row vectors, PyTorch's
gate orders.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from rnncourse.plotting import COLORS, GREY, new_figure

Point = tuple[float, float]

GATE_W, GATE_H = 1.0, 0.8    # size of a gate box, in data units
OP_R = 0.28                  # radius of a point-wise operation node
NODE_R = 0.36                # radius of a state node of the unrolled graph
TARGET_DX = 1.05             # the target y_t sits this far right of its loss l_t
GRAD_COLOR = COLORS["highlight"]


def _axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    """A clean, equal-aspect axes without ticks; a new figure unless ``ax`` is given."""
    if ax is None:
        fig, ax = new_figure(width=width, height=height)
    else:
        fig = ax.figure
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _wire(ax: Axes, points: Sequence[Point], color: str = GREY, lw: float = 1.5,
          gid: str | None = None, ls: str = "-", halo: bool = False) -> None:
    """A polyline through ``points`` ending in an arrow head at the last point.

    ``halo=True`` draws it over the other wires with a white border, so that where it crosses
    one the reader sees a gap (a crossing), not a junction.
    """
    xs, ys = zip(*points, strict=True)
    z = 1.5 if halo else 1
    effects = [patheffects.withStroke(linewidth=lw + 6, foreground="white")] if halo else []
    if len(points) > 2:
        ax.add_line(Line2D(xs[:-1], ys[:-1], color=color, lw=lw, ls=ls, zorder=z,
                           path_effects=effects))
    arrow = FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=12,
                            color=color, lw=lw, ls=ls, shrinkA=0, shrinkB=0, zorder=z, gid=gid)
    if halo:        # the border only along the shaft: a white arrow head would hide the target
        ax.add_line(Line2D([points[-2][0], points[-1][0]], [points[-2][1], points[-1][1]],
                           color="white", lw=lw + 6, zorder=z - 0.1,
                           solid_capstyle="butt"))
    ax.add_patch(arrow)


def _dot(ax: Axes, xy: Point) -> None:
    """A junction: the wire through ``xy`` joins the one it meets there."""
    ax.add_patch(Circle(xy, 0.07, facecolor=GREY, edgecolor="none", zorder=1.2))


def _line(ax: Axes, points: Sequence[Point], color: str = GREY, lw: float = 1.5) -> None:
    """A polyline through ``points`` without an arrow head (a branch or a bus)."""
    xs, ys = zip(*points, strict=True)
    ax.add_line(Line2D(xs, ys, color=color, lw=lw, zorder=1))


def _gate(ax: Axes, xy: Point, fn: str, name: str, label: str, color: str) -> None:
    """A box with the activation ``fn`` at ``xy`` (its centre), ``label`` written beside it."""
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - GATE_W / 2, y - GATE_H / 2), GATE_W, GATE_H,
                                boxstyle="round,pad=0.04,rounding_size=0.12", facecolor=color,
                                edgecolor=GREY, lw=1.2, zorder=2, gid=f"gate:{name}"))
    ax.text(x, y, fn, ha="center", va="center", color="white", fontsize=11, zorder=3,
            gid=f"fn:{name}")
    if label:       # beside the wire that leaves the box upwards
        ax.text(x + 0.1, y + GATE_H / 2 + 0.08, label, ha="left", va="bottom", fontsize=10,
                color=GREY, zorder=3, gid=f"label:{name}")


def _op(ax: Axes, xy: Point, symbol: str, name: str) -> None:
    """A point-wise operation (product, sum, tanh) drawn as a small circle."""
    ax.add_patch(Circle(xy, OP_R, facecolor="white", edgecolor=GREY, lw=1.2, zorder=2,
                        gid=f"op:{name}"))
    ax.text(*xy, symbol, ha="center", va="center", color=GREY, fontsize=7 if len(symbol) > 2
            else 10 if len(symbol) > 1 else 13, zorder=3)


def _state(ax: Axes, xy: Point, text: str, name: str, **kw) -> None:
    """The name of a state or input where a wire enters or leaves the cell."""
    ax.text(*xy, text, fontsize=12, color=GREY, gid=f"state:{name}", **kw)


def _frame(ax: Axes, x0: float, y0: float, x1: float, y1: float, title: str) -> None:
    """The outline of the cell and its title."""
    ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0,
                                boxstyle="round,pad=0,rounding_size=0.3", facecolor="none",
                                edgecolor=GREY, lw=1.0, ls="--", zorder=0, gid="frame"))
    ax.text(x0 + 0.15, y1 - 0.15, title, ha="left", va="top", fontsize=10, color=GREY)


def lstm_cell_diagram(ax: Axes | None = None) -> Figure:
    """One LSTM step: ``(h_{t-1}, c_{t-1})`` and ``x_t`` in, ``(h_t, c_t)`` out.

    The top wire is the cell state, ``c_t = f_t * c_{t-1} + i_t * g_t`` (the constant error
    carousel, highlighted); the four blocks, drawn left to right in PyTorch's order
    ``i, f, g, o``, read the bus that joins ``x_t`` and ``h_{t-1}``, and
    ``h_t = o_t * tanh(c_t)`` leaves on the right. The wire from ``i_t`` to the write product
    passes under the forget gate's wire (drawn with a gap: a crossing, not a junction).
    Gate boxes have gids ``gate:i`` .. ``gate:o``; operations ``op:forget``, ``op:write``,
    ``op:add``, ``op:tanh``, ``op:show``; the wires out of the gates and operations
    ``wire:<source>-><target>``, so that a test can read the data flow off the figure.
    """
    fig, ax = _axes(ax, 7.5, 4.6)
    top, bus, gy = 6.0, 0.8, 2.0
    carousel = COLORS["lstm"]
    xs = {"i": 2.0, "f": 3.3, "g": 4.6, "o": 6.4}
    _frame(ax, 0.0, 0.2, 9.6, 6.7, "LSTM cell")
    # the cell state: the carousel
    fx, ax_ = xs["f"], xs["g"]           # forget and add sit above f and g
    _state(ax, (-0.9, top), "$c_{t-1}$", "c_prev", ha="right", va="center")
    _wire(ax, [(-0.8, top), (fx - OP_R, top)], carousel, lw=3)
    _wire(ax, [(fx + OP_R, top), (ax_ - OP_R, top)], carousel, lw=3)
    _wire(ax, [(ax_ + OP_R, top), (10.5, top)], carousel, lw=3)
    _state(ax, (10.6, top), "$c_t$", "c", ha="left", va="center")
    ax.text(6.2, top + 0.2, "cell state: the carousel", fontsize=9, color=carousel, va="bottom")
    _op(ax, (fx, top), "×", "forget")
    _op(ax, (ax_, top), "+", "add")
    # inputs: h_{t-1} and x_t join a bus under the gates
    _state(ax, (-0.9, bus), "$h_{t-1}$", "h_prev", ha="right", va="center")
    _line(ax, [(-0.8, bus), (xs["o"], bus)])
    _state(ax, (0.7, -0.75), "$x_t$", "x", ha="center", va="top")
    _wire(ax, [(0.7, -0.6), (0.7, bus)])
    _dot(ax, (0.7, bus))
    gates = {"i": (r"$\sigma$", "$i_t$", COLORS["lstm"]),
             "f": (r"$\sigma$", "$f_t$", COLORS["lstm"]),
             "g": (r"$\tanh$", "$g_t$", COLORS["rnn"]),
             "o": (r"$\sigma$", "$o_t$", COLORS["lstm"])}
    for name, (fn, label, color) in gates.items():
        x = xs[name]
        if name != "o":
            _dot(ax, (x, bus))
        _wire(ax, [(x, bus), (x, gy - GATE_H / 2)])
        _gate(ax, (x, gy), fn, name, label, color)
    # write: i_t * g_t is added to the cell; the wire from i_t passes under f_t's
    wy = 3.7
    _wire(ax, [(xs["i"], gy + GATE_H / 2), (xs["i"], wy), (xs["g"] - OP_R, wy)],
          gid="wire:i->write")
    _wire(ax, [(xs["g"], gy + GATE_H / 2), (xs["g"], wy - OP_R)], gid="wire:g->write")
    _op(ax, (xs["g"], wy), "×", "write")
    _wire(ax, [(xs["g"], wy + OP_R), (xs["g"], top - OP_R)], gid="wire:write->add")
    # forget: f_t scales c_{t-1} (drawn over the write wire, with a gap where they cross)
    _wire(ax, [(fx, gy + GATE_H / 2), (fx, top - OP_R)], gid="wire:f->forget", halo=True)
    # show: h_t = o_t * tanh(c_t)
    sx, ty, oy = 8.2, 4.7, 3.2
    _wire(ax, [(sx, top), (sx, ty + OP_R)], gid="wire:c->tanh")
    _dot(ax, (sx, top))
    _op(ax, (sx, ty), "tanh", "tanh")
    _wire(ax, [(sx, ty - OP_R), (sx, oy + OP_R)], gid="wire:tanh->show")
    _wire(ax, [(xs["o"], gy + GATE_H / 2), (xs["o"], oy), (sx - OP_R, oy)], gid="wire:o->show")
    _op(ax, (sx, oy), "×", "show")
    _wire(ax, [(sx, oy - OP_R), (sx, bus), (10.5, bus)], gid="wire:show->h")
    _state(ax, (10.6, bus), "$h_t$", "h", ha="left", va="center")
    ax.set(xlim=(-2.0, 11.6), ylim=(-1.4, 7.1))
    return fig


def gru_cell_diagram(ax: Axes | None = None) -> Figure:
    """One GRU step in PyTorch's form: ``h_{t-1}`` and ``x_t`` in, ``h_t`` out.

    Drawn from the equations: ``r_t`` and ``z_t`` read both inputs; the box ``W_hn`` reads
    ``h_{t-1}`` only and computes ``h_{t-1} W_hn + b_hn``, which ``r_t`` scales (``op:reset``);
    the box ``W_xn`` reads ``x_t`` only and computes ``x_t W_xn + b_xn``, which is added to it
    (``op:sum``) before the ``tanh`` that gives the candidate
    ``n_t = tanh(x_t W_xn + b_xn + r_t * (h_{t-1} W_hn + b_hn))``. The top wire keeps
    ``z_t * h_{t-1}`` (the GRU's carousel), to which ``(1 - z_t) * n_t`` is added. ``h_{t-1}``
    and ``x_t`` run on two buses; a dot marks where a wire joins a bus. Gate boxes have gids
    ``gate:r``, ``gate:z``, ``gate:Whn``, ``gate:Wxn`` and ``gate:n``; every wire between the
    inputs, boxes and operations has the gid ``wire:<sources>-><target>`` (sources joined by
    ``+``), so that a test can read the data flow off the figure.
    """
    fig, ax = _axes(ax, 7.5, 5.2)
    top, zy, hbus, xbus, gy = 7.0, 6.2, 1.0, 0.4, 2.2
    carousel = COLORS["gru"]
    xs = {"z": 1.4, "r": 2.7, "Whn": 4.0, "Wxn": 5.4}
    _frame(ax, 0.0, -0.1, 9.6, 7.7, "GRU cell (PyTorch's form)")
    # the state wire: z_t * h_{t-1} + (1 - z_t) * n_t
    kx, addx = 7.6, 8.8
    _state(ax, (-0.9, top), "$h_{t-1}$", "h_prev", ha="right", va="center")
    _wire(ax, [(-0.8, top), (kx - OP_R, top)], carousel, lw=3)
    _wire(ax, [(kx + OP_R, top), (addx - OP_R, top)], carousel, lw=3)
    _wire(ax, [(addx + OP_R, top), (10.5, top)], carousel, lw=3)
    _state(ax, (10.6, top), "$h_t$", "h", ha="left", va="center")
    ax.text(3.9, top + 0.2, "state: kept where $z_t$ is near 1", fontsize=9, color=carousel,
            va="bottom")
    _op(ax, (kx, top), "×", "keep")
    _op(ax, (addx, top), "+", "add")
    # two buses: h_{t-1} drops from the state wire, x_t enters from below
    _line(ax, [(0.35, top), (0.35, hbus), (xs["Whn"], hbus)])
    _dot(ax, (0.35, top))
    _line(ax, [(xs["z"], xbus), (xs["Wxn"], xbus)])
    _state(ax, (3.35, -0.75), "$x_t$", "x", ha="center", va="top")
    _wire(ax, [(3.35, -0.6), (3.35, xbus)])
    _dot(ax, (3.35, xbus))
    gates = {"z": (r"$\sigma$", "$z_t$", COLORS["gru"], ("x", "h_prev")),
             "r": (r"$\sigma$", "$r_t$", COLORS["gru"], ("x", "h_prev")),
             "Whn": ("$W_{hn}$", "", COLORS["baseline"], ("h_prev",)),
             "Wxn": ("$W_{xn}$", "", COLORS["baseline"], ("x",))}
    for name, (fn, label, color, sources) in gates.items():
        x = xs[name]
        bottom = xbus if "x" in sources else hbus
        for y in [xbus] * ("x" in sources) + [hbus] * ("h_prev" in sources):
            _dot(ax, (x, y))
        _wire(ax, [(x, bottom), (x, gy - GATE_H / 2)], gid=f"wire:{'+'.join(sources)}->{name}")
        _gate(ax, (x, gy), fn, name, label, color)
    # reset after the product, plus the input part, then the tanh of the candidate
    ry, ny = 3.4, 4.5
    _wire(ax, [(xs["r"], gy + GATE_H / 2), (xs["r"], ry), (xs["Whn"] - OP_R, ry)],
          gid="wire:r->reset")
    _wire(ax, [(xs["Whn"], gy + GATE_H / 2), (xs["Whn"], ry - OP_R)], gid="wire:Whn->reset")
    _op(ax, (xs["Whn"], ry), "×", "reset")
    _wire(ax, [(xs["Whn"] + OP_R, ry), (xs["Wxn"] - OP_R, ry)], gid="wire:reset->sum")
    _wire(ax, [(xs["Wxn"], gy + GATE_H / 2), (xs["Wxn"], ry - OP_R)], gid="wire:Wxn->sum")
    _op(ax, (xs["Wxn"], ry), "+", "sum")
    _wire(ax, [(xs["Wxn"], ry + OP_R), (xs["Wxn"], ny - GATE_H / 2)], gid="wire:sum->n")
    _gate(ax, (xs["Wxn"], ny), r"$\tanh$", "n", "$n_t$", COLORS["rnn"])
    # update: z_t keeps the old state, 1 - z_t admits the candidate
    mx, oy = 6.6, 5.4
    _wire(ax, [(xs["z"], gy + GATE_H / 2), (xs["z"], zy), (kx, zy), (kx, top - OP_R)],
          gid="wire:z->keep")
    _dot(ax, (mx, zy))
    _wire(ax, [(mx, zy), (mx, oy + OP_R)], gid="wire:z->one_minus")
    _op(ax, (mx, oy), "1−", "one_minus")
    _wire(ax, [(mx, oy - OP_R), (mx, ny + OP_R)], gid="wire:one_minus->admit")
    _wire(ax, [(xs["Wxn"] + GATE_W / 2, ny), (mx - OP_R, ny)], gid="wire:n->admit")
    _op(ax, (mx, ny), "×", "admit")
    _wire(ax, [(mx + OP_R, ny), (addx, ny), (addx, top - OP_R)], gid="wire:admit->add")
    ax.set(xlim=(-2.0, 11.6), ylim=(-1.4, 8.1))
    return fig


def unrolled_graph_diagram(T: int = 4, gradients: bool = True, loss_at: str = "every",
                           losses: bool = True, folded: bool = False,
                           ax: Axes | None = None) -> Figure:
    """A simple RNN unrolled over ``T`` steps, with the gradient paths of BPTT.

    Forward edges (grey): ``x_t -> h_t`` (``W_xh``), ``h_{t-1} -> h_t`` (``W_hh``),
    ``h_t -> y-hat_t`` (``W_hy``), and ``y-hat_t -> loss_t`` together with the target
    ``y_t -> loss_t``, since ``loss_t = loss(y-hat_t, y_t)`` (target nodes ``node:target3``,
    their edges ``edge:target3->l3``). With ``gradients=True`` the backward
    paths are drawn dashed in the highlight colour: from each loss to its state
    (``grad:l3->h3``) and from each state to the previous one (``grad:h3->h2``, the factor
    ``dh_{t+1}/dh_t`` of the recursion for ``delta_t``). ``loss_at="last"`` draws the many-to-one
    case, with a loss at step ``T`` only. ``losses=False`` stops at the outputs (forward view
    only), and ``folded=True`` adds, on the left, the same network drawn as a loop (gids
    ``node:x_t``, ``node:h_t``, ``node:y_t`` and ``loop:W_hh``).
    """
    if loss_at not in ("every", "last"):
        raise ValueError(f"loss_at must be 'every' or 'last', got {loss_at!r}.")
    if T < 1:
        raise ValueError(f"T must be at least 1, got {T}.")
    if gradients and not losses:
        raise ValueError("gradients=True needs the losses they start from: set losses=True.")
    left = -3.9 if folded else -0.7
    fig, ax = _axes(ax, 1.9 * T + 1.8 + (1.6 if folded else 0.0), 4.6 if losses else 3.6)
    dx, ys = 2.2, {"x": 0.0, "h": 1.6, "y": 3.2, "l": 4.6}
    colors = {"x": COLORS["baseline"], "h": COLORS["rnn"], "y": COLORS["gru"],
              "l": COLORS["highlight"]}

    def node(kind: str, t: int | str, text: str, x: float | None = None) -> None:
        xy = (dx * t if x is None else x, ys[kind])
        ax.add_patch(Circle(xy, NODE_R, facecolor=colors[kind], edgecolor=GREY, alpha=0.9,
                            zorder=2, gid=f"node:{kind}{t}"))
        ax.text(*xy, text, ha="center", va="center", color="white", fontsize=10, zorder=3)

    if folded:                 # the loop: one column whose state feeds back into itself
        fx = -3.0
        node("x", "_t", "$x_t$", fx)
        node("h", "_t", "$h_t$", fx)
        node("y", "_t", r"$\hat y_t$", fx)
        for (k0, k1), label in [(("x", "h"), "$W_{xh}$"), (("h", "y"), "$W_{hy}$")]:
            _wire(ax, [(fx, ys[k0] + NODE_R), (fx, ys[k1] - NODE_R)])
            ax.text(fx - 0.42, (ys[k0] + ys[k1]) / 2, label, ha="center", va="center",
                    fontsize=8, color=GREY)
        ax.add_patch(FancyArrowPatch((fx + 0.26, ys["h"] + 0.25), (fx + 0.26, ys["h"] - 0.25),
                                     connectionstyle="arc3,rad=-1.6", arrowstyle="-|>",
                                     mutation_scale=12, color=GREY, lw=1.5, gid="loop:W_hh"))
        ax.text(fx + 0.75, ys["h"], "$W_{hh}$", fontsize=8, color=GREY, va="center")
        ax.text(-1.35, ys["h"], "=", fontsize=20, color=GREY, ha="center", va="center")

    def edge(kind0: str, t0: int, kind1: str, t1: int, label: str = "", gid: str | None = None,
             color: str = GREY, shift: float = 0.0, label_at: Point = (0.0, 0.0)) -> None:
        (x0, y0), (x1, y1) = (dx * t0, ys[kind0]), (dx * t1, ys[kind1])
        ux, uy = x1 - x0, y1 - y0
        norm = (ux**2 + uy**2) ** 0.5
        ux, uy = ux / norm, uy / norm
        px, py = -uy * shift, ux * shift       # sideways shift, to separate the two directions
        start = (x0 + NODE_R * ux + px, y0 + NODE_R * uy + py)
        end = (x1 - NODE_R * ux + px, y1 - NODE_R * uy + py)
        _wire(ax, [start, end], color, lw=1.3 if color == GREY else 1.8, gid=gid,
              ls="-" if color == GREY else "--")
        if label:
            mid = ((start[0] + end[0]) / 2 + label_at[0], (start[1] + end[1]) / 2 + label_at[1])
            ax.text(*mid, label, ha="center", va="center", fontsize=8,
                    color=color if color != GREY else GREY, zorder=3)

    node("h", 0, "$h_0$")
    for t in range(1, T + 1):
        node("x", t, f"$x_{t}$")
        node("h", t, f"$h_{t}$")
        edge("x", t, "h", t, "$W_{xh}$" if t == 1 else "", label_at=(-0.4, 0))
        edge("h", t - 1, "h", t, "$W_{hh}$" if t == 1 else "", shift=0.12 if gradients else 0.0,
             label_at=(0, 0.3))
        if loss_at == "every" or t == T:
            node("y", t, rf"$\hat y_{t}$")
            edge("h", t, "y", t, "$W_{hy}$" if t == 1 or loss_at == "last" else "",
                 shift=0.12 if gradients else 0.0, label_at=(-0.45, 0))
            if losses:
                node("l", t, rf"$\ell_{t}$")
                edge("y", t, "l", t, shift=0.12 if gradients else 0.0)
                target = (dx * t + TARGET_DX, ys["l"])
                ax.add_patch(Circle(target, NODE_R * 0.8, facecolor="white", edgecolor=GREY,
                                    lw=1.2, zorder=2, gid=f"node:target{t}"))
                ax.text(*target, f"$y_{t}$", ha="center", va="center", color=GREY, fontsize=10,
                        zorder=3)
                _wire(ax, [(target[0] - NODE_R * 0.8, ys["l"]), (dx * t + NODE_R, ys["l"])],
                      gid=f"edge:target{t}->l{t}")
    if gradients:
        for t in range(1, T + 1):
            if loss_at == "every" or t == T:
                edge("l", t, "y", t, color=GRAD_COLOR, shift=0.12, gid=f"grad:l{t}->y{t}")
                edge("y", t, "h", t, rf"$\partial\ell_{{{t}}}/\partial h_{{{t}}}$",
                     color=GRAD_COLOR, shift=0.12, gid=f"grad:l{t}->h{t}", label_at=(0.62, 0))
            if t < T:
                edge("h", t + 1, "h", t, rf"$\partial h_{{{t + 1}}}/\partial h_{{{t}}}$",
                     color=GRAD_COLOR, shift=0.12, gid=f"grad:h{t + 1}->h{t}",
                     label_at=(0, -0.34))
            ax.text(dx * t + 0.42, ys["h"] - 0.42, rf"$\delta_{t}$", fontsize=9, color=GRAD_COLOR,
                    ha="left", va="top", gid=f"delta:{t}")
        ax.add_line(Line2D([], [], color=GREY, lw=1.3, label="forward"))
        ax.add_line(Line2D([], [], color=GRAD_COLOR, lw=1.8, ls="--", label="gradient (BPTT)"))
        ax.legend(loc="upper left", fontsize=9, bbox_to_anchor=(0.0, 1.02))
    ax.set(xlim=(left, dx * T + (1.6 if losses else 1.0)), ylim=(-0.6, 5.2 if losses else 3.8))
    return fig
