"""viz.embeddings: 2-D projections, token paths through the layers, nearest neighbours."""

import numpy as np
import pytest

from viz.embeddings import (
    nearest_neighbours,
    normalise_stages,
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


def test_projection_frame_projects_each_stage_and_all_stages_together():
    hidden = np.random.default_rng(0).normal(size=(3, len(TOKENS), 8))  # (L+1, T, d)
    frame = projection_frame(hidden, TOKENS, "pca")
    assert list(frame.columns) == [
        *["stage", "stage_label", "position", "token", "label", "x", "y", "path_x", "path_y"]
    ]
    assert len(frame) == 3 * len(TOKENS)
    assert frame["label"].nunique() == len(TOKENS)  # "0:▁the" and "4:▁the" differ
    assert list(frame["stage_label"].unique()) == ["embedding + PE", "after L0", "after L1"]
    # x, y: each stage its own PCA, so each stage is centred on its own
    for _, pts in frame.groupby("stage"):
        assert pts["x"].mean() == pytest.approx(0.0, abs=1e-9)
        assert pts["y"].mean() == pytest.approx(0.0, abs=1e-9)
    # path_x, path_y: one joint PCA of the normalised stages (centred over all of them together)
    assert frame["path_x"].mean() == pytest.approx(0.0, abs=1e-9)


def test_a_few_long_vectors_no_longer_squeeze_the_rest_into_a_dot():
    """Position 0 and the last piece 50 times longer than the rest (as in en-de's residual stream): raw
    PCA spends its axes on them; after normalising each stage the others keep their spread."""
    rng = np.random.default_rng(4)
    hidden = rng.normal(size=(2, 12, 16))
    hidden[:, [0, -1]] *= 50
    tokens = [f"▁t{i}" for i in range(12)]

    def spread_of_the_rest(frame):
        rest = frame[(frame["stage"] == 1) & ~frame["position"].isin([0, 11])]
        everything = frame[frame["stage"] == 1]
        return np.ptp(rest["x"]) / np.ptp(everything["x"])

    raw = projection_frame(hidden, tokens, "pca", normalise=False)
    normalised = projection_frame(hidden, tokens, "pca")
    assert spread_of_the_rest(raw) < 0.1 < 0.4 < spread_of_the_rest(normalised)
    directions = normalise_stages(hidden)  # unit vectors, each stage centred
    np.testing.assert_allclose(directions.mean(axis=1), 0.0, atol=1e-12)
    assert np.linalg.norm(directions, axis=-1).max() <= 2.0


def test_each_stage_is_turned_to_match_the_stage_before():
    """PCA's signs are arbitrary: a stage that is the one before, mirrored, is drawn the same way up."""
    rng = np.random.default_rng(5)
    stage = rng.normal(size=(10, 6)) * np.array([5, 2, 1, 1, 1, 1])
    frame = projection_frame(np.stack([stage, -stage]), [f"▁t{i}" for i in range(10)], "pca")
    first, second = (frame[frame["stage"] == s][["x", "y"]].to_numpy() for s in (0, 1))
    np.testing.assert_allclose(first, second, atol=1e-9)


def test_projection_frame_rejects_token_count_mismatch():
    with pytest.raises(ValueError, match="tokens"):
        projection_frame(np.ones((2, 4, 8)), TOKENS, "pca")


def test_stage_labels_count_the_input_and_every_layer():
    assert stage_labels(3) == ["embedding + PE", "after L0", "after L1"]


def test_token_path_follows_the_chosen_token_through_every_stage_in_the_joint_projection():
    hidden = np.random.default_rng(1).normal(size=(4, len(TOKENS), 8))
    frame = projection_frame(hidden, TOKENS, "pca")
    fig = token_path(frame, positions=4)
    (path,) = [t for t in fig.data if t.mode == "lines+markers+text"]
    rows = frame[frame["position"] == 4]
    np.testing.assert_allclose(path.x, rows["path_x"])
    assert path.name == "4:▁the" and len(path.x) == 4
    assert list(path.text) == ["0", "1", "2", "3"]  # numbered by stage; the hover names it
    assert list(path.customdata) == list(rows["stage_label"])
    assert path.cliponaxis is False and list(path.marker.symbol) == ["circle", "arrow", "arrow", "arrow"]


def test_token_path_leaves_room_around_every_point():
    frame = projection_frame(np.random.default_rng(1).normal(size=(4, len(TOKENS), 8)), TOKENS, "pca")
    fig = token_path(frame, positions=[0, 2])
    for axis, column in (("xaxis", "path_x"), ("yaxis", "path_y")):
        lo, hi = fig.layout[axis].range
        assert lo < frame[column].min() and hi > frame[column].max()


def test_projection_scatter_draws_each_stage_in_its_own_panel_and_labels_only_the_chosen():
    frame = projection_frame(np.random.default_rng(2).normal(size=(3, len(TOKENS), 8)), TOKENS)
    fig = projection_scatter(frame, chosen=[1, 4])
    assert [a.text for a in fig.layout.annotations] == stage_labels(3)  # one panel per stage
    assert len({(t.xaxis, t.yaxis) for t in fig.data}) == 3
    written = [t for t in fig.data if t.mode == "markers+text"]
    assert sorted({t.text[0] for t in written}) == ["1:▁cat", "4:▁the"]  # only the chosen are written
    assert all(t.cliponaxis is False for t in written)
    unwritten = [t for t in fig.data if t.mode == "markers"]
    assert sum(len(t.x) for t in unwritten) == 3 * (len(TOKENS) - 2)  # the others: points with a hover
    assert all(len(t.customdata) == len(t.x) for t in unwritten)
    assert "PCA" in fig.layout.title.text


def test_long_stage_names_go_on_two_lines_when_panels_stand_three_a_row():
    """Five stages stand three a row: "after L0 (residual stream, not normalised)" ran into its neighbour's
    title at 1280 px; it is written on two lines, and the top margin grows by a line for it."""
    names = ["embedding + PE"] + [f"after L{i} (residual stream, not normalised)" for i in range(3)]
    names.append("final LayerNorm (memory)")
    states = np.random.default_rng(2).normal(size=(5, len(TOKENS), 8))
    fig = projection_scatter(projection_frame(states, TOKENS, stage_names=names))
    assert [a.text for a in fig.layout.annotations] == [
        "embedding + PE", *[f"after L{i}<br>(residual stream, not normalised)" for i in range(3)],
        "final LayerNorm (memory)",
    ]  # fmt: skip
    two = projection_scatter(projection_frame(states[:2], TOKENS, stage_names=names[:2]))
    assert [a.text for a in two.layout.annotations] == names[:2]  # two a row: room for one line
    assert fig.layout.margin.t == two.layout.margin.t + round(12 * 1.2)


def test_projection_scatter_of_one_stage_is_one_panel():
    frame = projection_frame(np.random.default_rng(2).normal(size=(3, len(TOKENS), 8)), TOKENS)
    fig = projection_scatter(frame, stage=2, chosen=[0])
    assert len({(t.xaxis, t.yaxis) for t in fig.data}) == 1
    assert fig.layout.title.text.startswith("after L1")
    with pytest.raises(ValueError, match="stage 7"):
        projection_scatter(frame, stage=7)


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
