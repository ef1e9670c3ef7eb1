"""viz.head_roles_grid / head_roles_frame (what each head does, drawn from arrays) and viz.row_shares (an
attribution made to read like attention weights)."""

from __future__ import annotations

import numpy as np
import pytest

import viz
from transformer.head_roles import ROLES

NAMES = {
    "encoder": np.array([["previous", "broad"], ["parked", "<b>rare</b>"]]),
    "cross": np.array([["aligned", "aligned"], ["broad", "parked"]]),
}
SCORES = {"encoder": np.array([[0.95, 0.5], [0.4, 0.3]]), "cross": np.array([[0.8, 0.6], [0.45, 0.35]])}


def test_every_head_is_a_cell_coloured_by_its_role_and_saying_role_and_score():
    names = {**NAMES, "encoder": np.array([["previous", "broad"], ["parked", "rare"]])}
    fig = viz.head_roles_grid(names, SCORES, ROLES)
    assert [t.xaxis for t in fig.data] == ["x", "x2"]  # encoder, then cross: the kinds' order
    colours = viz.role_colours(ROLES)
    assert len(set(colours.values())) == len(ROLES)
    for trace, kind in zip(fig.data, ("encoder", "cross"), strict=True):
        assert trace.text[0][0] == f"{names[kind][0, 0]}<br>{SCORES[kind][0, 0]:.2f}"
        scale = {round(a, 6): c for a, c in trace.colorscale}  # a role's band starts with its colour
        for (layer, head), role in np.ndenumerate(names[kind]):
            z = trace.z[layer][head]
            # the cell's value sits inside its role's band of the stepped scale, whose colour is the role's
            i = ROLES.index(role)
            assert i < z < i + 1
            assert scale[round(i / len(ROLES), 6)] == colours[role]


def test_a_role_outside_the_list_or_mismatched_arrays_are_refused():
    with pytest.raises(ValueError, match="not among"):
        viz.head_roles_grid(NAMES, SCORES, ROLES)  # "<b>rare</b>" is no role
    with pytest.raises(ValueError, match="must be one"):
        viz.head_roles_grid({"cross": NAMES["cross"]}, {"cross": SCORES["cross"][:1]}, ROLES)
    with pytest.raises(ValueError, match="no attention kind"):
        viz.head_roles_grid({"nope": NAMES["cross"]}, {"nope": SCORES["cross"]}, ROLES)


def test_the_frame_has_a_row_per_head_with_every_measure():
    measures = {"cross": {"aligned": np.array([[0.8, 0.6], [0.1, np.nan]])}}
    frame = viz.head_roles_frame({"cross": NAMES["cross"]}, {"cross": SCORES["cross"]}, measures)
    assert list(frame.columns) == ["kind", "layer", "head", "role", "score", "aligned"]
    assert len(frame) == 4
    row = frame[(frame["layer"] == 1) & (frame["head"] == 0)].iloc[0]
    assert (row["role"], row["score"], row["aligned"]) == ("broad", 0.45, 0.1)
    assert np.isnan(frame.iloc[3]["aligned"])


def test_row_shares_rescale_absolute_values_and_keep_a_zero_row():
    got = viz.row_shares(np.array([[1.0, -3.0], [0.0, 0.0], [2.0, 2.0]]))
    np.testing.assert_allclose(got, [[0.25, 0.75], [0.0, 0.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="shape"):
        viz.row_shares(np.ones(3))
