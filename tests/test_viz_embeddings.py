"""viz.embeddings: 2-D projections, token paths through the layers, nearest neighbours."""

import numpy as np
import pytest

from viz.embeddings import (
    nearest_neighbours,
    project_2d,
    projection_frame,
    projection_scatter,
    stage_labels,
    token_path,
)

TOKENS = ["▁the", "▁cat", "▁sat", "▁on", "▁the", "▁mat"]


@pytest.mark.parametrize("n", [2, 3, 50])
def test_tsne_works_for_tiny_and_normal_sentences(n):
    xy = project_2d(np.random.default_rng(n).normal(size=(n, 16)), "tsne")
    assert xy.shape == (n, 2) and np.isfinite(xy).all()


def test_tsne_clips_a_perplexity_that_is_too_large():
    xy = project_2d(np.random.default_rng(0).normal(size=(5, 8)), "tsne", perplexity=30)
    assert xy.shape == (5, 2)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_one_point_lands_at_the_origin(method):
    assert project_2d(np.ones((1, 8)), method).tolist() == [[0.0, 0.0]]


def test_pca_keeps_the_main_direction():
    t = np.linspace(-1, 1, 10)[:, None]
    points = np.hstack([t * 10, t * 0.01, np.zeros((10, 2))])  # almost a line along dim 0
    xy = project_2d(points, "pca")
    assert abs(np.corrcoef(xy[:, 0], t[:, 0])[0, 1]) == pytest.approx(1.0, abs=1e-6)


def test_project_2d_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        project_2d(np.ones((4, 3)), "umap")


def test_projection_frame_fits_all_stages_jointly_and_labels_repeated_words():
    hidden = np.random.default_rng(0).normal(size=(3, len(TOKENS), 8))  # (L+1, T, d)
    frame = projection_frame(hidden, TOKENS, "pca")
    assert list(frame.columns) == ["stage", "stage_label", "position", "token", "label", "x", "y"]
    assert len(frame) == 3 * len(TOKENS)
    assert frame["label"].nunique() == len(TOKENS)  # "0:▁the" and "4:▁the" differ
    assert list(frame["stage_label"].unique()) == ["embedding + PE", "after L0", "after L1"]
    # one joint PCA: the projected cloud is centred over all stages together, not per stage
    assert frame["x"].mean() == pytest.approx(0.0, abs=1e-9)
    assert abs(frame.loc[frame["stage"] == 0, "x"].mean()) > 1e-6


def test_projection_frame_rejects_token_count_mismatch():
    with pytest.raises(ValueError, match="tokens"):
        projection_frame(np.ones((2, 4, 8)), TOKENS, "pca")


def test_stage_labels_count_the_input_and_every_layer():
    assert stage_labels(3) == ["embedding + PE", "after L0", "after L1"]


def test_token_path_follows_the_chosen_token_through_every_stage():
    hidden = np.random.default_rng(1).normal(size=(4, len(TOKENS), 8))
    frame = projection_frame(hidden, TOKENS, "pca")
    fig = token_path(frame, positions=4)
    (path,) = [t for t in fig.data if t.mode == "lines+markers+text"]
    rows = frame[frame["position"] == 4]
    np.testing.assert_allclose(path.x, rows["x"])
    assert path.name == "4:▁the" and len(path.x) == 4


def test_projection_scatter_colours_each_stage():
    frame = projection_frame(np.random.default_rng(2).normal(size=(3, len(TOKENS), 8)), TOKENS)
    fig = projection_scatter(frame)
    assert [t.name for t in fig.data] == stage_labels(3)
    assert "PCA" in fig.layout.title.text


def test_nearest_neighbours_finds_the_row_itself_first():
    emb = np.random.default_rng(3).normal(size=(20, 8))
    nn = nearest_neighbours(emb[7] * 3, emb, lambda i: f"p{i}", k=4)
    assert list(nn.columns) == ["rank", "token_id", "token", "cosine"]
    assert nn["token_id"].iloc[0] == 7 and nn["token"].iloc[0] == "p7"
    assert nn["cosine"].iloc[0] == pytest.approx(1.0)
    assert nn["cosine"].is_monotonic_decreasing


def test_nearest_neighbours_can_exclude_ids():
    emb = np.random.default_rng(3).normal(size=(20, 8))
    nn = nearest_neighbours(emb[7], emb, str, k=3, exclude_ids=[7])
    assert 7 not in set(nn["token_id"]) and len(nn) == 3
