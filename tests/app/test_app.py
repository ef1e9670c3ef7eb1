"""The Streamlit app through `AppTest`: every view renders, widgets and the URL change what is shown,
bad input gives notices instead of tracebacks. One behaviour per test.

Uses the default model (assets/DEFAULT) and the toy `reverse` model when they exist in assets/;
tests that need one are skipped otherwise.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app_support import export, models, registry, state
from app_support.run import Run
from app_support.stages import layer_stages
from app_support.views import anatomy as anatomy_view
from app_support.views import attention as attention_view
from app_support.views import roles as roles_view
from tests.support.apptest import (
    MODELS,
    TOY,
    assert_clean,
    attention_html,
    attention_maps,
    decoder_pieces,
    figures,
    font_px,
    head_views,
    heatmaps,
    needs_model,
    needs_toy,
    open_checkpoint,
    run_app,
    title,
    z_of,
)
from tests.support.heatmap_reader import read_heatmap
from transformer import load_pretrained

# --- every view renders ---------------------------------------------------------------------------

WAITS_FOR_INPUT = {  # views that draw no figure until the person acts, and the widget they wait on instead
    "pairs": "text2",  # a second sentence
    "quiz": "quiz_pick",  # the student's guess: the attention stays hidden until then
    "anatomy": "ana_next",  # the walk opens on the whole model (text): Next brings the figures, section by section
}


def head_buttons(at: AppTest) -> bool:
    """The Head roles view's grid: a button per head."""
    return any(b.key and b.key.startswith(roles_view.CELL) for b in at.button)


def drawn_or_waiting(at: AppTest, view: str) -> bool:
    """The view drew a figure (or a table), or it is one that waits for input and shows what it waits on."""
    if figures(at) or attention_maps(at) or at.dataframe:
        return True
    return view in WAITS_FOR_INPUT and at.get_by_key(WAITS_FOR_INPUT[view]) is not None


@needs_toy
@needs_model
def test_decoding_settings_of_the_chosen_model_are_stated():
    """The sidebar says how the model decodes, from its own metadata: the toy and the default differ."""
    from tools.card import describe_generation
    from transformer import load_pretrained

    captions = {}
    for name in (TOY, load_pretrained().name):
        at = run_app(model=name)
        assert_clean(at)
        expected = describe_generation(load_pretrained(name).generation)
        captions[name] = [c.value for c in at.caption if expected in c.value]
        assert len(captions[name]) == 1, (name, expected, [c.value for c in at.caption])
    assert len({c[0] for c in captions.values()}) == 2


@needs_model
@pytest.mark.parametrize("view", list(registry.titles()))
def test_every_view_renders_on_default_model(view):
    """Each view draws at least one element and no exception with the default model and its example."""
    at = run_app(view=view)
    assert_clean(at)
    assert at.segmented_control(key=registry.picker_key(view)).value == view == at.session_state["view"]
    assert drawn_or_waiting(at, view)


@needs_toy
@pytest.mark.parametrize("view", list(registry.titles()))
def test_every_view_renders_on_toy_model(view):
    """Each view draws without exception on the toy model, with a repeated letter in the sentence."""
    at = run_app(model=TOY, view=view, text="c a f b c")
    assert_clean(at)
    if view != "io":
        assert (
            figures(at)
            or attention_maps(at)
            or head_buttons(at)
            or (view in WAITS_FOR_INPUT and drawn_or_waiting(at, view))
        )


# --- widgets change what is shown -------------------------------------------------------------------


@needs_toy
def test_changing_text_changes_heatmap_rows():
    """A longer sentence gives heatmaps with more rows (one per source piece, plus </s>)."""
    at = run_app(model=TOY, view="attention", text="c a f")
    assert [m.z.shape for m in attention_maps(at)] == [(4, 4), (4, 4)]
    at.text_input(key="text").set_value("c a f b d e").run()
    assert [m.z.shape for m in attention_maps(at)] == [(7, 7), (7, 7)]


@needs_toy
def test_repeated_words_keep_their_own_rows():
    """ "c a c a" has two rows labelled ▁c and two labelled ▁a, not one merged row each."""
    at = run_app(model=TOY, view="attention", text="c a c a")
    hm = attention_maps(at)[0]
    assert hm.z.shape == (5, 5)
    assert hm.y_labels == hm.x_labels == ["▁c", "▁a", "▁c", "▁a", "</s>"]


@needs_toy
def test_changing_layer_changes_heatmap():
    """Picking layer 1 redraws the one-head heatmap from layer 1's weights."""
    at = run_app(model=TOY, view="attention", text="c a f b")
    before = attention_maps(at)[0]
    assert before.title == "Encoder self-attention: L0 H0"
    at.segmented_control(key="layer").set_value(1).run()
    after = attention_maps(at)[0]
    assert after.title == "Encoder self-attention: L1 H0"
    assert after.z.shape == before.z.shape and not np.allclose(after.z, before.z)


@needs_toy
def test_changing_head_changes_heatmap():
    """Picking head 2 redraws the one-head heatmap; "mean" leaves a single averaged heatmap."""
    at = run_app(model=TOY, view="attention", text="c a f b")
    at.segmented_control(key="head").set_value(2).run()
    assert [m.title for m in attention_maps(at)] == [
        "Encoder self-attention: L0 H2",
        "Encoder self-attention: L0 mean of heads",
    ]
    at.segmented_control(key="head").set_value(state.MEAN).run()
    assert [m.title for m in attention_maps(at)] == ["Encoder self-attention: L0 mean of heads"]


@needs_toy
def test_decoder_view_shows_the_causal_mask():
    """Decoder self-attention hatches the masked future (the upper triangle, no weight) under its own legend;
    encoder attention masks nothing and draws no legend."""
    at = run_app(model=TOY, view="attention", text="c a f b", kind="decoder")
    maps = attention_maps(at)
    assert len(maps) == 2
    for hm in maps:
        future = np.triu(np.ones((hm.rows, hm.cols), dtype=bool), k=1)
        assert hm.rows == hm.cols > 1 and hm.mask_legend
        np.testing.assert_array_equal(hm.masked, future)
        assert np.isnan(hm.z[future]).all() and np.isfinite(hm.z[~future]).all()
    at.segmented_control(key="kind").set_value("encoder").run()
    maps = attention_maps(at)
    assert len(maps) == 2
    assert not any(hm.mask_legend or hm.masked.any() for hm in maps)
    assert all(np.isfinite(hm.z).all() for hm in maps)


@needs_toy
def test_changing_view_changes_content():
    """Input & output shows token tables; switching to Positional encoding shows PE figures instead."""
    at = run_app(model=TOY, view="io", text="c a f b")
    assert len(at.dataframe) >= 2 and not figures(at) and not attention_html(at)
    at.segmented_control(key=registry.picker_key("positional")).set_value("positional").run()
    assert any(title(f).startswith("Positional encoding") for f in figures(at))


@needs_toy
def test_model_view_draws_every_layer_and_head():
    """The model view has one heatmap per layer × head of the chosen kind."""
    at = run_app(model=TOY, view="attention", text="c a f b", panel="model", kind="cross")
    assert_clean(at)
    cfg = json.loads((MODELS[TOY] / "config.json").read_text())
    assert len(heatmaps(figures(at)[0])) == cfg["n_decoder_layers"] * cfg["n_heads"]


@needs_toy
def test_head_view_draws_only_chosen_heads():
    """The head view is an SVG page in an iframe (hover a piece: only its lines): its lines and colour key
    are exactly the heads picked in "Heads to draw" (in the head picker's place), one label per piece."""
    at = run_app(model=TOY, view="attention", text="c a f b", panel="lines")
    at.multiselect(key="att_lines_heads").set_value([1, 3]).run()
    assert_clean(at)
    assert not figures(at)
    (page,) = head_views(at)
    svg = ET.fromstring(page[page.index("<svg") : page.index("</body>")])
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = [g.get("class") for g in svg.iterfind(".//s:g[@class='lines']/s:g", ns)]
    assert groups == ["h h1", "h h3"]
    assert [t.text for t in svg.iterfind(".//s:g[@class='key']//s:text", ns)] == ["head 1", "head 3"]
    labels = [g.find("s:text", ns).text for g in svg.iterfind(".//s:g[@class='labels']/s:g", ns)]
    assert labels == ["▁c", "▁a", "▁f", "▁b", "</s>"] * 2  # queries, then keys
    assert "c a f b" in svg.find("s:title", ns).text  # the sentence: a saved SVG says what it shows
    assert [b.proto.label for b in at.get("download_button") if b.proto.id.endswith("dl_head_view")] == [
        "Download the head view (SVG, for slides)"
    ]  # named and checked in a real download: tests/browser/test_browser.py
    assert "head" not in [w.key for w in at.segmented_control]  # the heads are picked above, not here


@needs_toy
def test_a_projected_head_view_of_a_long_sentence_fits_the_screen():
    """Presentation mode: the head view's frame (as tall as its SVG) fits under what stands above it on a
    1920 × 1080 projector, its font smaller for 35 pieces; a short sentence keeps the full presentation font;
    out of presentation mode a long sentence's head view keeps the normal font."""
    from app_support.views.attention import PROJECTOR_HEIGHT
    from app_support.views.attention.draw import FIT_TOP_PX

    def svg_root(at: AppTest) -> tuple[float, float]:  # (height, font size) of the head view's SVG: the
        (page,) = head_views(at)  # frame is as tall as it (viz.svg_size)
        root = re.search(r'<svg [^>]*height="([\d.]+)"[^>]*font-size="([\d.]+)"', page)
        return float(root.group(1)), float(root.group(2))

    long = " ".join("abcdefghij"[i % 10] for i in range(34))
    projected = run_app(model=TOY, view="attention", text=long, panel="lines", present="1")
    assert_clean(projected)
    height, font = svg_root(projected)
    assert height <= PROJECTOR_HEIGHT - FIT_TOP_PX and 11 <= font < 20
    plain, plain_font = svg_root(run_app(model=TOY, view="attention", text=long, panel="lines"))
    assert plain_font == 12 and plain * 20 / 12 > PROJECTOR_HEIGHT - FIT_TOP_PX  # at 20 px it would not fit
    short = run_app(model=TOY, view="attention", text="c a f b", panel="lines", present="1")
    assert svg_root(short)[1] == 20


@needs_toy
def test_decoding_step_moves_the_prediction():
    """The decoding slider picks the decoder position whose next-token probabilities are drawn."""
    at = run_app(model=TOY, view="decoding", text="c a f b")
    assert title(figures(at)[0]).startswith("Step 0")
    at.slider(key="step").set_value(2).run()
    assert title(figures(at)[0]).startswith("Step 2")
    assert at.query_params["step"] == "2"


# --- decoder rows: the piece read, the piece predicted, or both ------------------------------------


def y_ticks(at: AppTest, n: int = 0) -> list[str]:
    """Every row label of the n-th attention heatmap on the page, as text (unescaped)."""
    return attention_maps(at)[n].y_labels


def plotly_escaped(labels: list[str]) -> list[str]:
    """Labels as a Plotly figure's tick text carries them (its tick labels are HTML: < and > escaped)."""
    return [t.replace("<", "&lt;").replace(">", "&gt;") for t in labels]


@needs_toy
def test_cross_attention_rows_are_labelled_by_the_piece_they_predict_by_default():
    """Cross-attention row t is labelled by piece t + 1: the first row by the first output piece, not <s>."""
    at = run_app(model=TOY, view="attention", text="c a f b", kind="cross")
    assert_clean(at)
    read, predicted = decoder_pieces("c a f b")
    control = at.segmented_control(key="rows_pick")
    assert control.label == "Label decoder rows by" and control.value == "predicted"
    assert y_ticks(at, 0) == y_ticks(at, 1) == predicted
    assert [m.y_title for m in attention_maps(at)] == ["decoder row: piece predicted (next piece)"] * 2
    assert "rows" not in at.query_params  # the default is not written
    assert any("row t reads piece t" in c.value for c in at.caption)


@needs_toy
def test_label_control_changes_the_cross_attention_row_labels():
    """Picking "read" or "read → predicted" relabels the rows of both heatmaps and retitles the y axis."""
    at = run_app(model=TOY, view="attention", text="c a f b", kind="cross")
    read, predicted = decoder_pieces("c a f b")
    at.segmented_control(key="rows_pick").set_value("read").run()
    assert y_ticks(at, 0) == y_ticks(at, 1) == read
    assert [m.y_title for m in attention_maps(at)] == ["decoder row: piece read"] * 2
    at.segmented_control(key="rows_pick").set_value("both").run()
    both = [f"{r} → {p}" for r, p in zip(read, predicted, strict=True)]
    assert y_ticks(at, 0) == y_ticks(at, 1) == both
    assert at.query_params["rows"] == "both"


@needs_toy
def test_decoder_self_attention_defaults_to_both_and_the_encoder_control_is_off():
    """Decoder rows show "read → predicted" until a choice is made; for the encoder the control is greyed out."""
    at = run_app(model=TOY, view="attention", text="c a f b", kind="decoder")
    read, predicted = decoder_pieces("c a f b")
    assert at.segmented_control(key="rows_pick").value == "both"
    assert y_ticks(at, 0) == y_ticks(at, 1) == [f"{r} → {p}" for r, p in zip(read, predicted, strict=True)]
    at.segmented_control(key="kind").set_value("encoder").run()
    assert at.segmented_control(key="rows_pick").disabled
    assert not any("row t reads piece t" in c.value for c in at.caption)


@needs_toy
def test_row_labels_round_trip_through_the_url():
    """A choice is written to the URL as rows=...; a link with it opens with the same labels in every view."""
    at = run_app(model=TOY, view="attention", text="c a f b", kind="cross")
    at.segmented_control(key="rows_pick").set_value("read").run()
    link = dict(at.query_params)
    assert link["rows"] == "read"
    again = run_app(**link)
    assert_clean(again)
    assert again.segmented_control(key="rows_pick").value == "read"
    assert y_ticks(again) == decoder_pieces("c a f b")[0]
    again.segmented_control(key="kind").set_value("decoder").run()  # one choice, every decoder-side kind
    assert y_ticks(again) == decoder_pieces("c a f b")[0]
    anatomy = run_app(**(link | {"view": "anatomy", "section": "3"}))
    assert_clean(anatomy)
    assert anatomy.segmented_control(key="rows_pick").value == "read"
    q = next(f for f in figures(anatomy) if title(f).startswith("Q ("))  # Anatomy still draws with Plotly
    assert q["layout"]["yaxis"]["ticktext"] == plotly_escaped(decoder_pieces("c a f b")[0])


@pytest.mark.parametrize("model", [TOY, None], ids=["toy", "default"])
def test_anatomy_walks_the_paper_one_section_at_a_time(model):
    """Anatomy opens on the whole model (text only); Next walks sections 1–8 in the paper's order, each
    drawing its own figures (every stage of the layer in 6 and 7) with its number in the URL; Previous goes
    back. Together the sections draw every figure the walk had on one page."""
    if (model or bs_default()) not in MODELS:
        pytest.skip("model not in assets/")
    name = model or bs_default()
    cfg = load_pretrained(name).config
    at = run_app(model=name, view="anatomy", kind="encoder")
    assert_clean(at)
    assert at.session_state["ana_section"] == 0 and not figures(at) and "section" not in at.query_params
    assert at.subheader[0].value.startswith("0. The whole model")
    last = {stack: getattr(cfg, f"n_{stack}_layers") == 1 for stack in ("encoder", "decoder")}
    expected = {  # figures per section: layer 0 of encoder self-attention (which masks nothing)
        1: 1, 2: 1, 3: 5, 4: 2, 5: 2,
        6: len(layer_stages("encoder", 0, cfg.norm, last["encoder"])),
        7: 2 + len(layer_stages("decoder", 0, cfg.norm, last["decoder"])),
        8: 1,
    }  # fmt: skip
    for number in range(1, len(anatomy_view.SECTION_TITLES)):
        at.button(key="ana_next").click().run()
        assert_clean(at)
        assert at.session_state["ana_section"] == number and at.query_params["section"] == str(number)
        assert at.subheader[0].value.startswith(f"{number}. "), at.subheader[0].value
        assert len(figures(at)) == expected[number], (number, [title(f) for f in figures(at)])
        # a kind picker only where one attention is dissected (3-5): a whole layer (6, 7) draws every kind
        kinds = [c for c in at.segmented_control if c.key == "kind"]
        assert len(kinds) == (number in (3, 4, 5)), number
        if number in (6, 7):  # rows: the encoder's predict nothing; the decoder layer's rows are labelled
            rows = next(c for c in at.segmented_control if c.key == attention_view.ROWS_PICK)
            assert rows.disabled == (number == 6), number
    assert not [b for b in at.button if b.key == "ana_next"]  # the last section: no Next
    at.button(key="ana_previous").click().run()
    assert at.session_state["ana_section"] == 7 and at.query_params["section"] == "7"


def bs_default() -> str | None:
    return models.default_model_name(list(MODELS)) if MODELS else None


@needs_toy
def test_anatomy_labels_decoder_rows_as_chosen():
    """Anatomy's Q rows and its softmax heatmap use the same labels as the Attention view."""
    at = run_app(model=TOY, view="anatomy", text="c a f b", kind="cross", section="3")
    assert_clean(at)
    predicted = plotly_escaped(decoder_pieces("c a f b")[1])  # Anatomy's figures are Plotly's
    for name in ("Q (", "1. scores", "3. softmax"):
        fig = next(f for f in figures(at) if title(f).startswith(name))
        assert fig["layout"]["yaxis"]["ticktext"] == predicted, name
        axis_title = fig["layout"]["yaxis"]["title"]["text"].replace("<br>", " ")  # long titles break in two
        assert axis_title == "decoder row: piece predicted (next piece)", name


@needs_toy
def test_decoding_view_says_what_the_step_reads_and_predicts():
    """The Decoding view names the piece read and the piece predicted at the chosen step, in text and titles."""
    at = run_app(model=TOY, view="decoding", text="c a f b", step="1")
    assert_clean(at)
    read, predicted = decoder_pieces("c a f b")[0][1:3]
    listing = [[line.split() for line in c.value.splitlines()] for c in at.code]
    assert [["1", read, "←", "reads"], ["2", predicted, "←", "predicts"]] in [rows[-2:] for rows in listing]
    assert at.segmented_control(key="rows_pick").value == "both"
    step_titles = [title(f) for f in figures(at)[1:]]
    assert all(t.startswith(f"Step 1: reads '{read}', predicts '{predicted}'") for t in step_titles)
    at.segmented_control(key="rows_pick").set_value("predicted").run()
    assert all(title(f).startswith(f"Step 1: predicts '{predicted}'") for f in figures(at)[1:])


@needs_toy
def test_attention_csv_says_what_each_row_reads_and_predicts():
    """The CSV keeps its columns and adds query_read and query_predicted ("</s>" after the last row)."""
    path = str(MODELS[TOY])
    csv = export.attention_csv(Run(path, models.stamp(path), "c a f b", 1, 0)).decode("utf-8")
    header = csv.splitlines()[0].split(",")
    assert header == [
        *"layer,head,q_pos,k_pos,query,key,weight,kind".split(","),
        "query_read",
        "query_predicted",
    ]
    frame = pd.read_csv(io.StringIO(csv), keep_default_na=False)
    cross = frame[frame["kind"] == "cross"].drop_duplicates("q_pos")
    tgt = load_pretrained(TOY).trace("c a f b").tgt_tokens
    assert cross["query_read"].tolist() == tgt and cross["query_predicted"].tolist() == [*tgt[1:], "</s>"]
    assert set(frame.loc[frame["kind"] == "encoder", "query_predicted"]) == {""}


# --- the URL ----------------------------------------------------------------------------------------


@needs_toy
def test_query_params_restore_the_view():
    """A shared URL opens the same model, sentence, view, kind, layer and head."""
    at = run_app(model=TOY, text="b a d", view="attention", kind="cross", layer="1", head="3")
    assert_clean(at)
    assert at.text_input(key="text").value == "b a d"
    assert at.selectbox(key="model").value == TOY
    assert at.segmented_control(key="kind").value == "cross"
    assert [m.title for m in attention_maps(at)] == [
        "Cross-attention: L1 H3",
        "Cross-attention: L1 mean of heads",
    ]


@needs_toy
def test_url_follows_the_widgets():
    """Changing the layer, head and view writes them into the URL."""
    at = run_app(model=TOY, text="c a f b", view="attention")
    at.segmented_control(key="layer").set_value(1).run()
    at.segmented_control(key="head").set_value(state.MEAN).run()
    qp = dict(at.query_params)
    assert (qp["text"], qp["model"], qp["view"]) == ("c a f b", TOY, "attention")
    assert (qp["layer"], qp["head"]) == ("1", "mean")


@needs_model
@pytest.mark.parametrize(
    "key, value",
    [
        ("model", "no-such-model"),
        ("view", "<script>alert(1)</script>"),
        ("kind", "sideways"),
        ("layer", "99"),
        ("layer", "abc"),
        ("head", "123456789012345678901234567890"),
        ("rows", "sideways"),
        ("beam", "0"),
        ("present", "maybe"),
    ],
)
def test_bad_query_param_warns_and_uses_default(key, value):
    """An invalid URL parameter is named in a warning and replaced by the default; no traceback."""
    at = run_app(**{key: value})
    assert_clean(at)
    assert any(f"`{key}`" in w.value for w in at.warning), [w.value for w in at.warning]
    if key in registry.defaults():
        assert at.session_state[key] == registry.defaults()[key]


@needs_model
def test_presentation_mode_enlarges_figures():
    """present=1 draws figures with bigger fonts (the Attention view's HTML heatmaps and Plotly's figures
    elsewhere) and keeps present=1 in the URL."""
    normal = run_app(view="attention")
    big = run_app(view="attention", present="1")
    assert_clean(big)
    size = [font_px(body) for body in attention_html(normal)]
    assert len(size) == 2
    assert [font_px(body) for body in attention_html(big)] == [s + 8 for s in size]
    assert big.query_params["present"] == "1"
    normal = run_app(view="decoding")
    big = run_app(view="decoding", present="1")
    assert_clean(big)
    size = [f["layout"]["font"]["size"] for f in figures(normal)]
    assert size and [f["layout"]["font"]["size"] for f in figures(big)] == [s + 8 for s in size]


# --- input edge cases -------------------------------------------------------------------------------


@needs_model
def test_empty_input_shows_a_hint():
    """Whitespace only: an info hint, no figures, no error."""
    at = run_app(view="attention", text="   ")
    assert_clean(at)
    assert any("Type a sentence" in i.value for i in at.info)
    assert not figures(at) and not attention_html(at)


@needs_toy
def test_long_input_is_truncated_with_a_notice():
    """A sentence longer than max_len pieces is cut to max_len (with </s>) and a warning says so."""
    max_len = json.loads((MODELS[TOY] / "config.json").read_text())["max_len"]
    at = run_app(
        model=TOY, view="attention", text=" ".join("abcdefghij"[i % 10] for i in range(max_len + 20))
    )
    assert_clean(at)
    assert any("longer than this model's max_len" in w.value for w in at.warning)
    assert [m.z.shape for m in attention_maps(at)] == [(max_len, max_len)] * 2
    assert attention_maps(at)[0].y_labels[-1] == "</s>"


@needs_model
def test_user_text_never_reaches_markdown():
    """HTML and Markdown in the sentence are shown as text (code, tables, figures), never as markdown."""
    evil = (
        "<img src=x onerror=alert(1)> **bold** [link](http://example.com) $x^2$ :smile: Ünï 日本語 🙂 עברית"
    )
    at = run_app(view="decoding", text=evil)
    assert_clean(at)
    assert at.text_input(key="text").value == evil
    assert not any(part in m.value for m in at.markdown for part in ("<img", "**bold**", "](http"))


# --- checkpoints ------------------------------------------------------------------------------------


def test_corrupt_checkpoint_shows_an_error(tmp_path, monkeypatch):
    """A directory with garbage checkpoint files shows the CheckpointError message, not a traceback."""
    monkeypatch.setenv("TRANSFORMER_MODEL_DIRS", str(tmp_path))  # an allowed folder (app_support.model_dirs)
    for name in ("config.json", "model.safetensors", "tokenizer.model"):
        (tmp_path / name).write_bytes(b"\x00garbage")
    at = open_checkpoint(str(tmp_path))
    assert not at.exception
    assert any("Could not load this checkpoint" in e.value for e in at.error)
    assert any("config" in e.value and "not valid JSON" in e.value for e in at.error)


def test_missing_checkpoint_shows_an_error(tmp_path, monkeypatch):
    """A path that does not exist gives an error message naming it."""
    monkeypatch.setenv("TRANSFORMER_MODEL_DIRS", str(tmp_path))
    at = open_checkpoint(str(tmp_path / "nowhere"))
    assert not at.exception
    assert any("no checkpoint at" in e.value for e in at.error)


@needs_toy
def test_custom_checkpoint_directory_loads():
    """Pointing the custom field at a model directory loads it (and keeps it out of the URL)."""
    at = open_checkpoint(str(MODELS[TOY]))
    assert_clean(at)
    assert attention_maps(at) and "model" not in at.query_params


@needs_toy
def test_export_buttons_are_offered():
    """The sidebar offers the attention CSV and the trace JSON once a sentence is traced; the Attention view
    offers each of its two heatmaps as a file in the sidebar's "Figures save as" format (PNG unless SVG is
    chosen), and nothing else is offered."""
    at = run_app(model=TOY, text="c a f b")
    assert [b.proto.label for b in at.sidebar.get("download_button")] == [
        "Attention (CSV)",
        "Whole trace (JSON)",
    ]
    heatmaps = ["dl_fig_att_head", "dl_fig_att_mean"]
    assert {b.key: b.proto.label for b in at.main.get("download_button")} == dict.fromkeys(
        heatmaps, "Download (PNG)"
    )
    assert len(at.get("download_button")) == 4
    at.radio(key="fig_format").set_value("svg").run()
    assert_clean(at)
    assert {b.key: b.proto.label for b in at.main.get("download_button")} == dict.fromkeys(
        heatmaps, "Download (SVG, for slides)"
    )
    assert len(at.get("download_button")) == 4


@needs_toy
def test_hiding_special_pieces_drops_their_rows_and_renormalises():
    """With specials hidden, </s> loses its row and column and each remaining row sums to 1 again."""
    at = run_app(model=TOY, view="attention", text="c a f b")
    at.toggle(key="att_hide_specials").set_value(True).run()
    hm = attention_maps(at)[0]
    assert hm.y_labels == hm.x_labels == ["▁c", "▁a", "▁f", "▁b"]
    assert hm.z.shape == (4, 4)
    np.testing.assert_allclose(hm.z.sum(axis=1), 1.0, atol=2.5e-3)  # weights written to 3 decimals
    w = load_pretrained(TOY).trace("c a f b").attention["encoder"][0, 0].numpy()[:4, :4]  # L0 H0
    np.testing.assert_allclose(hm.z, w / w.sum(axis=1, keepdims=True), atol=6e-4)


@pytest.fixture
def media_files(monkeypatch) -> list:
    """The media file manager of every `AppTest` run from here on (the mock runtime's, dropped by AppTest
    after each run): a download button whose data is made when clicked holds only an id in its proto;
    the file, its name and its content are the manager's."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.testing.v1 import app_test

    managers = []

    class Recorded(MediaFileManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            managers.append(self)

    monkeypatch.setattr(app_test, "MediaFileManager", Recorded)
    return managers


def click_download(at: AppTest, managers: list, key: str):
    """What the browser is given when the download button `key` is clicked: a MemoryFile (content, mimetype,
    filename), made by the button's deferred callable, as Streamlit's server makes it."""
    (button,) = [b for b in at.get("download_button") if b.key == key]
    file_id = button.proto.deferred_file_id
    assert file_id and not button.proto.url  # made on click, not sent with the page
    manager = managers[-1]  # the last run's
    url = manager.execute_deferred(file_id)
    file = manager.read_file(url.rsplit("/", 1)[-1])
    assert file is not None, url
    return file


@needs_toy
@pytest.mark.parametrize("present", ["0", "1"])
def test_heatmap_download_is_named_after_the_figure_png_or_svg(media_files, present):
    """Each heatmap's download saves a file named after the model, view, kind, layer, head and sentence, in
    the sidebar's "Figures save as" format: a PNG by default (2× the SVG's size), an SVG once chosen, a
    well-formed one that says what it shows (its title and the sentence). Clicked as Streamlit's server
    makes the file; in presentation mode too (its page figure is fitted to the screen, the file is not)."""
    at = run_app(model=TOY, view="attention", text="c a f b", layer="1", head="2", present=present)
    assert_clean(at)
    figures = (("dl_fig_att_head", "H2", "H2"), ("dl_fig_att_mean", "mean", "mean of heads"))
    png_sizes = {}
    for key, head, _ in figures:
        file = click_download(at, media_files, key)
        assert file.filename == f"{TOY}_attention_encoder_L1_{head}_c-a-f-b.png"
        assert file.mimetype == "image/png"
        image = Image.open(io.BytesIO(file.content))
        assert (image.format, image.mode) == ("PNG", "RGB")
        png_sizes[key] = image.size

    at.radio(key="fig_format").set_value("svg").run()
    assert_clean(at)
    ns = {"s": "http://www.w3.org/2000/svg"}
    for key, head, who in figures:
        file = click_download(at, media_files, key)
        assert file.filename == f"{TOY}_attention_encoder_L1_{head}_c-a-f-b.svg"
        assert file.mimetype == "image/svg+xml"
        svg = ET.fromstring(file.content.decode("utf-8"))
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        assert svg.find("s:title", ns).text == f"Encoder self-attention: L1 {who}"
        text = " ".join(t for t in svg.itertext())
        assert "“c a f b”" in text  # the sentence, as the page's subtitle quotes it
        assert len(svg.findall(".//s:rect/s:title", ns)) == 5 * 5  # one cell per query × key, each named
        (width, height), size = png_sizes[key], (float(svg.get("width")), float(svg.get("height")))
        assert abs(width - 2 * size[0]) <= 1 and abs(height - 2 * size[1]) <= 1  # the PNG: this figure at 2×


@needs_toy
def test_switching_model_replaces_an_example_sentence():
    """The sentence follows the model while it is one of the examples; a typed sentence stays."""
    at = run_app(model=TOY)
    other = next(name for name in MODELS if name != TOY)
    at.selectbox(key="model").set_value(other).run()
    assert (
        at.text_input(key="text").value != ""
        and at.text_input(key="text").value in at.session_state["_examples"]
    )
    at.text_input(key="text").set_value("b a d").run()
    at.selectbox(key="model").set_value(TOY).run()
    assert at.text_input(key="text").value == "b a d"


# --- what a teacher notices (issue 12) ---------------------------------------------------------


@needs_toy
def test_anatomy_says_nothing_masked_instead_of_drawing_the_same_scores_twice():
    """Encoder and cross-attention mask nothing: step 2 is a sentence, not a copy of step 1's heatmap."""
    at = run_app(model=TOY, view="anatomy", text="c a f b", kind="encoder", section="3")
    assert_clean(at)
    titles = [title(f) for f in figures(at)]
    assert "1. scores QKᵀ/√d_k" in titles and not [t for t in titles if t.startswith("2.")]
    assert any("Nothing masked" in i.value for i in at.info)
    at = run_app(model=TOY, view="anatomy", text="c a f b", kind="decoder", section="3")
    assert "2. masked: grey = −∞" in [title(f) for f in figures(at)]
    assert not any("Nothing masked" in i.value for i in at.info)


@needs_toy
def test_relu_activations_have_a_one_sided_colour_scale():
    """max(0, ·) is never negative: its colour scale starts at 0 (white), no blue half."""
    at = run_app(model=TOY, view="anatomy", text="c a f b", section="5")
    relu = next(f for f in figures(at) if title(f).startswith("ReLU activations"))
    heat = next(t for t in relu["data"] if t["type"] == "heatmap")
    assert heat["zmin"] == 0 and "zmid" not in heat
    assert heat["colorscale"][0][1].replace(" ", "") in ("rgb(255,245,240)", "#fff5f0")  # Reds starts white
    ffn_out = next(f for f in figures(at) if title(f) == "FFN output")
    out = next(t for t in ffn_out["data"] if t["type"] == "heatmap")
    assert out["zmid"] == 0 and out["zmin"] == -out["zmax"]  # signed values keep the two-sided scale


@needs_model
def test_a_plain_link_opens_on_attention():
    """No view in the link: the Attention view, with the head and the mean drawn."""
    at = run_app()
    assert_clean(at)
    assert (
        at.segmented_control(key=registry.picker_key("attention")).value
        == "attention"
        == registry.defaults()["view"]
    )
    assert [m.title.endswith("mean of heads") for m in attention_maps(at)] == [False, True]
    assert at.query_params["view"] == "attention"
    assert [t.value for t in at.sidebar.title] == ["Transformer, live"] and not at.main.title


@needs_toy
def test_renormalise_rows_shows_off_while_nothing_is_hidden():
    """While specials are shown, "Renormalise rows" is greyed out and off (not greyed out and on); hiding them
    brings back the setting, which was kept."""
    at = run_app(model=TOY, view="attention", text="c a f b")
    (stand_in,) = [t for t in at.toggle if t.label == "Renormalise rows"]
    assert stand_in.disabled and stand_in.value is False and stand_in.key is None
    assert at.session_state["att_renormalise"] is True
    at.toggle(key="att_hide_specials").set_value(True).run()
    real = at.toggle(key="att_renormalise")
    assert real.value is True and not real.disabled


@needs_toy
@pytest.mark.parametrize(
    "panel, layer, head, heads_to_draw",
    [("heatmaps", True, True, False), ("model", False, False, False), ("lines", True, False, True)],
)
def test_only_the_pickers_a_panel_uses_are_drawn(panel, layer, head, heads_to_draw):
    """A greyed-out "L0" or "H0" would still look chosen: the model view draws every layer and head and says
    so; the head view picks its heads in the head picker's place."""
    at = run_app(model=TOY, view="attention", text="c a f b", panel=panel)
    assert_clean(at)
    keys = {w.key for w in at.segmented_control}
    assert ("layer" in keys, "head" in keys) == (layer, head)
    assert ("att_lines_heads" in {m.key for m in at.multiselect}) == heads_to_draw
    if panel == "model":
        assert {m.value for m in at.markdown} >= {"**Layers:** all", "**Heads:** all"}


@needs_model
def test_presentation_mode_puts_head_and_mean_in_columns_and_folds_the_notes():
    """present=1: the head and the mean in two columns (side by side), the explanations in a folded expander."""
    at = run_app(view="attention", present="1")
    assert_clean(at)
    in_columns = [[e.proto.body for e in c.get("html") if "attn-hm" in e.proto.body] for c in at.columns]
    titles = [[read_heatmap(body).title for body in bodies] for bodies in in_columns if bodies]
    assert [[t.endswith("mean of heads") for t in column] for column in titles] == [[False], [True]]
    assert len(attention_html(at)) == 2  # both are in the columns
    notes = next(e for e in at.expander if e.label == "What am I looking at?")
    assert any("spreads one unit of attention" in c.value for c in notes.caption)
    assert not any("spreads one unit of attention" in m.value for m in at.markdown)


@needs_toy
def test_embeddings_write_only_the_chosen_pieces():
    """Every piece is a point; only those picked under "Pieces to label and follow" are written."""
    at = run_app(model=TOY, view="embeddings", text="c a f b d", emb_paths="1,3")
    assert_clean(at)
    scatter = figures(at)[0]
    written = {t["text"][0] for t in scatter["data"] if t.get("mode") == "markers+text"}
    assert written == {"1:▁a", "3:▁b"}
    points = sum(len(z_of({"z": t["x"]})) for t in scatter["data"] if t.get("mode") == "markers")
    n_stages = len([a for a in scatter["layout"]["annotations"] if "“" not in a["text"]])
    assert points == n_stages * (6 - 2)  # the other pieces (5 letters and </s>), in every stage's panel
