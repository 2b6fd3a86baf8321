"""Specifications of rnncourse.diagrams: each drawing is a Figure whose parts can be named."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")   # no display: the figures are only inspected, never shown

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rnncourse.diagrams import (  # noqa: E402
    gru_cell_diagram,
    lstm_cell_diagram,
    unrolled_graph_diagram,
)


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
    assert nodes == {"node:h0"} | {f"node:{k}{t}" for k in "xhyl" for t in (1, 2, 3)}
    assert not any(g.startswith("grad:") for g in gids(fig))


def test_unrolled_graph_draws_every_backward_path_of_bptt():
    fig = unrolled_graph_diagram(T=4)
    found = gids(fig)
    assert {f"grad:h{t + 1}->h{t}" for t in (1, 2, 3)} <= found
    assert {f"grad:l{t}->h{t}" for t in (1, 2, 3, 4)} <= found
    assert {f"delta:{t}" for t in (1, 2, 3, 4)} <= found
    assert r"$\partial h_{2}/\partial h_{1}$" in texts(fig)


def test_many_to_one_graph_has_a_single_loss_at_the_last_step():
    found = gids(unrolled_graph_diagram(T=4, loss_at="last"))
    assert {g for g in found if g.startswith("node:l")} == {"node:l4"}
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
    assert not any(g.startswith(("node:l", "grad:")) for g in found)


def test_folded_view_adds_the_loop_beside_the_unrolled_graph():
    found = gids(unrolled_graph_diagram(T=2, gradients=False, losses=False, folded=True))
    assert {"node:x_t", "node:h_t", "node:y_t", "loop:W_hh", "node:h0", "node:h2"} <= found


def test_gradients_without_losses_are_refused():
    with pytest.raises(ValueError, match="losses"):
        unrolled_graph_diagram(gradients=True, losses=False)
