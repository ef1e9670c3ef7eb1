"""viz.positional: the sinusoidal formula (paper §3.5) and its figures."""

import math

import numpy as np
import pytest

from viz.positional import embedding_sum_view, pe_heatmap, pe_similarity, sinusoid_curves, sinusoidal_pe


@pytest.mark.parametrize(
    "pos, dim, expected",
    [
        (0, 0, 0.0),  # sin(0)
        (0, 1, 1.0),  # cos(0)
        (1, 0, 0.8414709848078965),  # sin(1 / 10000^0)
        (1, 1, 0.5403023058681398),  # cos(1)
        (1, 2, 0.009999833334166664),  # sin(1 / 10000^(2/4)) = sin(0.01)
        (1, 3, 0.9999500004166653),  # cos(0.01)
        (50, 2, math.sin(0.5)),
    ],
)
def test_sinusoidal_pe_matches_the_paper_formula(pos, dim, expected):
    assert sinusoidal_pe(64, 4)[pos, dim] == pytest.approx(expected, abs=1e-12)


def test_sinusoidal_pe_handles_odd_d_model():
    pe = sinusoidal_pe(10, 5)
    assert pe.shape == (10, 5)
    assert pe[3, 4] == pytest.approx(math.sin(3 / 10000 ** (4 / 5)))


@pytest.mark.parametrize("max_len, d_model", [(1, 2), (64, 4), (128, 64), (50, 5), (17, 31), (512, 256)])
def test_sinusoidal_pe_equals_the_models_own_table(max_len, d_model):
    """The formula exists twice (viz draws it without a model); this holds the two copies equal."""
    from transformer.embeddings import sinusoidal_table

    np.testing.assert_allclose(
        sinusoidal_pe(max_len, d_model), sinusoidal_table(max_len, d_model).numpy(), atol=1e-6
    )


def test_sinusoidal_pe_rejects_empty_sizes():
    with pytest.raises(ValueError):
        sinusoidal_pe(0, 8)


def test_sinusoid_curves_draws_one_line_per_chosen_dim():
    fig = sinusoid_curves(sinusoidal_pe(20, 8), dims=[0, 3, 6])
    assert [t.name.split(" (")[0] for t in fig.data] == ["dim 0", "dim 3", "dim 6"]
    np.testing.assert_allclose(fig.data[1].y, sinusoidal_pe(20, 8)[:, 3])
    assert fig.layout.xaxis.title.text == "position in the sentence"


def test_sinusoid_curves_rejects_a_dim_outside_the_model():
    with pytest.raises(ValueError, match="dims"):
        sinusoid_curves(sinusoidal_pe(5, 4), dims=[4])


def test_pe_heatmap_is_position_by_dimension():
    fig = pe_heatmap(sinusoidal_pe(12, 6))
    assert np.asarray(fig.data[0].z).shape == (12, 6)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1.0, 1.0)
    assert fig.layout.yaxis.title.text == "position"


@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_pe_similarity_is_symmetric_with_the_largest_value_on_the_diagonal(metric):
    z = np.asarray(pe_similarity(sinusoidal_pe(16, 8), metric).data[0].z)
    np.testing.assert_allclose(z, z.T)
    expected = 4.0 if metric == "dot" else 1.0  # sin² + cos² = 1 for each of the d/2 pairs
    np.testing.assert_allclose(np.diag(z), expected)


def test_pe_similarity_axes_end_at_the_last_position():
    """Square cells without stretching an axis: both run from position 0 (top, left) to the last, 63."""
    fig = pe_similarity(sinusoidal_pe(64, 16))
    assert list(fig.layout.xaxis.range) == [-0.5, 63.5] and list(fig.layout.yaxis.range) == [63.5, -0.5]
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.xaxis.constrain == fig.layout.yaxis.constrain == "domain"


def test_pe_heatmap_axes_end_at_the_last_position_and_dimension():
    fig = pe_heatmap(sinusoidal_pe(64, 16))
    assert list(fig.layout.yaxis.range) == [63.5, -0.5] and list(fig.layout.xaxis.range) == [-0.5, 15.5]


def test_embedding_sum_view_has_three_panels_with_one_colour_scale():
    rng = np.random.default_rng(0)
    tok, pe = rng.normal(size=(3, 8)), sinusoidal_pe(3, 8)
    fig = embedding_sum_view(tok, pe, tok + pe, ["▁the", "▁cat", "▁the"])
    assert len(fig.data) == 3
    assert {t.coloraxis for t in fig.data} == {"coloraxis"}
    assert fig.layout.coloraxis.cmin == -fig.layout.coloraxis.cmax  # symmetric around 0
    np.testing.assert_allclose(np.asarray(fig.data[2].z), tok + pe)
    assert list(fig.layout.yaxis.ticktext) == ["▁the", "▁cat", "▁the"]
