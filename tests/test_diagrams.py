"""Specifications of rnncourse.diagrams: each drawing is a Figure whose parts can be named."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # no display: the figures are only inspected, never shown

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from rnncourse.diagrams import (  # noqa: E402
    gru_cell_diagram,
    lstm_cell_diagram,
    unrolled_graph_diagram,
)
from scripts.readable_refs import book_pages  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    """Every test starts and ends without open figures."""
    plt.close("all")
    yield
    plt.close("all")


def gids(fig: Figure) -> set[str]:
    """The gids of every artist of the figure."""
    return {a.get_gid() for a in fig.findobj() if a.get_gid()}


def texts(fig: Figure) -> list[str]:
    """Every text written on the figure's axes."""
    return [t.get_text() for ax in fig.axes for t in ax.texts]


BOOK = Path(__file__).resolve().parents[1] / "book"
MATH_ATOM = re.compile(r"\\[A-Za-z]+|[A-Za-z](?:_\{[^{}]*\}|_[A-Za-z0-9])?")
NAMED_TEXT = ("state:", "label:", "fn:")   # the texts that name a symbol of the equations


def flow(fig: Figure) -> set[tuple[str, str]]:
    """The data flow drawn: (source, target) for every wire with gid ``wire:a+b->target``."""
    edges = set()
    for gid in gids(fig):
        if gid.startswith("wire:"):
            sources, target = gid.removeprefix("wire:").split("->")
            edges |= {(source, target) for source in sources.split("+")}
    return edges


def gate_order(fig: Figure) -> list[str]:
    """The names of the gate boxes, left to right."""
    boxes = [p for p in fig.findobj(FancyBboxPatch) if (p.get_gid() or "").startswith("gate:")]
    return [p.get_gid().removeprefix("gate:") for p in sorted(boxes, key=lambda p: p.get_x())]


def display_equations(page: Path) -> str:
    """The display equations ($$ ... $$) of a book page, without white space."""
    blocks = re.findall(r"\$\$(.*?)\$\$", page.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"\s+", "", "".join(blocks))


def labels_missing_from(fig: Figure, equations: str) -> set[str]:
    """The symbols written on the figure's named texts that the equations do not contain."""
    named = [t.get_text() for ax in fig.axes for t in ax.texts
             if (t.get_gid() or "").startswith(NAMED_TEXT)]
    atoms = {a for text in named for math in re.findall(r"\$(.*?)\$", text)
             for a in MATH_ATOM.findall(math)}
    return {a for a in atoms if a not in equations}


def pages_drawing(function_name: str) -> list[Path]:
    """The book pages whose code calls ``function_name(``."""
    return [p for p in book_pages(BOOK.parent)
            if f"{function_name}(" in p.read_text(encoding="utf-8")]


def test_lstm_diagram_is_a_figure_with_the_four_gates_in_pytorch_order():
    fig = lstm_cell_diagram()
    assert isinstance(fig, Figure)
    assert {"gate:i", "gate:f", "gate:g", "gate:o"} <= gids(fig)
    assert {"$i_t$", "$f_t$", "$g_t$", "$o_t$"} <= set(texts(fig))


def test_lstm_diagram_names_both_states_on_the_way_in_and_out():
    fig = lstm_cell_diagram()
    assert {"$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$h_t$", "$x_t$"} <= set(texts(fig))
    assert {"state:c_prev", "state:c", "state:h_prev", "state:h", "state:x"} <= gids(fig)


def test_lstm_diagram_draws_the_pointwise_operations_of_the_cell_update():
    assert {"op:forget", "op:write", "op:add", "op:tanh", "op:show"} <= gids(lstm_cell_diagram())


def test_gru_diagram_has_reset_update_and_candidate():
    fig = gru_cell_diagram()
    assert isinstance(fig, Figure)
    assert {"gate:r", "gate:z", "gate:n"} <= gids(fig)
    assert {"$r_t$", "$z_t$", "$n_t$", "$h_{t-1}$", "$h_t$", "$x_t$"} <= set(texts(fig))


def test_gru_diagram_applies_the_reset_gate_after_the_recurrent_product():
    fig = gru_cell_diagram()
    assert {"gate:Whn", "op:reset", "op:keep", "op:one_minus", "op:admit"} <= gids(fig)
    assert "$W_{hn}$" in texts(fig)


def test_unrolled_graph_has_one_column_of_nodes_per_step():
    fig = unrolled_graph_diagram(T=3, gradients=False)
    assert isinstance(fig, Figure)
    nodes = {g for g in gids(fig) if g.startswith("node:")}
    columns = {f"node:{k}{t}" for k in ("x", "h", "y", "l", "target") for t in (1, 2, 3)}
    assert nodes == {"node:h0"} | columns
    assert not any(g.startswith("grad:") for g in gids(fig))


def test_unrolled_graph_draws_every_backward_path_of_bptt():
    fig = unrolled_graph_diagram(T=4)
    found = gids(fig)
    assert {f"grad:h{t + 1}->h{t}" for t in (1, 2, 3)} <= found
    assert {f"grad:l{t}->h{t}" for t in (1, 2, 3, 4)} <= found
    assert {f"delta:{t}" for t in (1, 2, 3, 4)} <= found
    assert r"$\partial h_{2}/\partial h_{1}$" in texts(fig)


def test_each_loss_of_the_unrolled_graph_reads_its_target():
    """loss_t = loss(y-hat_t, y_t): does the target y_t enter every loss node?"""
    found = gids(unrolled_graph_diagram(T=3))
    assert {f"node:target{t}" for t in (1, 2, 3)} <= found
    assert {f"edge:target{t}->l{t}" for t in (1, 2, 3)} <= found
    assert {"$y_1$", "$y_2$", "$y_3$"} <= set(texts(unrolled_graph_diagram(T=3)))


def test_many_to_one_graph_has_a_single_loss_at_the_last_step():
    found = gids(unrolled_graph_diagram(T=4, loss_at="last"))
    assert {g for g in found if g.startswith("node:l")} == {"node:l4"}
    assert {g for g in found if g.startswith("node:target")} == {"node:target4"}
    assert {g for g in found if g.startswith("grad:l")} == {"grad:l4->y4", "grad:l4->h4"}


def test_diagrams_draw_on_a_given_axes():
    fig, ax = plt.subplots()
    assert gru_cell_diagram(ax=ax) is fig
    assert "gate:z" in gids(fig)


def test_unrolled_graph_rejects_an_unknown_loss_placement():
    with pytest.raises(ValueError, match="loss_at"):
        unrolled_graph_diagram(loss_at="first")


def test_forward_view_has_outputs_but_no_losses_or_gradients():
    found = gids(unrolled_graph_diagram(T=3, gradients=False, losses=False))
    assert {"node:y1", "node:y2", "node:y3"} <= found
    assert not any(g.startswith(("node:l", "node:target", "grad:")) for g in found)


def test_folded_view_adds_the_loop_beside_the_unrolled_graph():
    found = gids(unrolled_graph_diagram(T=2, gradients=False, losses=False, folded=True))
    assert {"node:x_t", "node:h_t", "node:y_t", "loop:W_hh", "node:h0", "node:h2"} <= found


def test_gradients_without_losses_are_refused():
    with pytest.raises(ValueError, match="losses"):
        unrolled_graph_diagram(gradients=True, losses=False)


def test_lstm_diagram_draws_the_gate_boxes_left_to_right_in_pytorch_order():
    """Are the boxes in the order the caption and the fused weights use (i, f, g, o)?"""
    assert gate_order(lstm_cell_diagram()) == ["i", "f", "g", "o"]


def test_lstm_diagram_draws_the_data_flow_of_its_equations():
    """c_t = f * c_prev + i * g and h_t = o * tanh(c_t): does every wire go where they say?"""
    assert flow(lstm_cell_diagram()) == {
        ("f", "forget"), ("i", "write"), ("g", "write"), ("write", "add"),
        ("c", "tanh"), ("tanh", "show"), ("o", "show"), ("show", "h")}


def test_gru_diagram_draws_the_data_flow_of_its_equations():
    """n = tanh(x W_xn + b_xn + r * (h_prev W_hn + b_hn)): W_hn reads h_prev only, W_xn reads
    x only, r scales the recurrent part only, and h = (1 - z) * n + z * h_prev."""
    edges = flow(gru_cell_diagram())
    assert edges == {
        ("x", "r"), ("h_prev", "r"), ("x", "z"), ("h_prev", "z"),
        ("h_prev", "Whn"), ("x", "Wxn"),
        ("r", "reset"), ("Whn", "reset"), ("reset", "sum"), ("Wxn", "sum"), ("sum", "n"),
        ("z", "keep"), ("z", "one_minus"), ("one_minus", "admit"), ("n", "admit"),
        ("admit", "add")}
    assert ("x", "Whn") not in edges and ("h_prev", "n") not in edges


@pytest.mark.parametrize("diagram", [lstm_cell_diagram, gru_cell_diagram],
                         ids=lambda f: f.__name__)
def test_each_cell_diagram_names_only_symbols_of_its_pages_equations(diagram):
    """Is every symbol written on the diagram (states, gates, boxes) in the display equations
    of each page that draws it?"""
    pages = pages_drawing(diagram.__name__)
    assert pages, f"no book page calls {diagram.__name__}(): the test has nothing to check"
    for page in pages:
        missing = labels_missing_from(diagram(), display_equations(page))
        assert not missing, f"{page.name}: {sorted(missing)} drawn but not in its equations"


def test_a_label_that_is_not_in_the_equations_is_reported():
    """Does the label check see a symbol the page does not define (here a typo, W_{nh})?"""
    fig = gru_cell_diagram()
    equations = r"n_t=\tanh(x_tW_{xn}+b_{xn})"
    fig.axes[0].text(0, 0, "$W_{nh}$", gid="fn:typo")
    missing = labels_missing_from(fig, equations)
    assert "W_{nh}" in missing and "W_{xn}" not in missing
