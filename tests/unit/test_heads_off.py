"""Heads switched off and typed translations without the app: the set and its URL form, the batched
teacher-forced scores against single traces, the reverse model broken by its anti-diagonal heads, and
sessions that share one model never seeing each other's ablation."""

from __future__ import annotations

import random

import numpy as np
import pytest

from app_support import models
from app_support.experiment import heads_off, results
from app_support.run import Run
from app_support.safe_text import md_code
from tests.support.threads import at_once
from transformer import available_models, load_pretrained
from transformer.analysis import piece_scores

TOY = "reverse"
needs_toy = pytest.mark.skipif(TOY not in available_models(), reason=f"toy model {TOY!r} not in assets/ yet")
N_LAYERS = {"encoder": 2, "decoder": 2, "cross": 2}


# --- the set of heads and its URL form ----------------------------------------------------------------


def test_heads_round_trip_through_the_url_form_sorted():
    off = heads_off.normalise([("cross", 1, 3), ("encoder", 0, 2), ("cross", 1, 0), ("cross", 1, 3)])
    assert off == (("encoder", 0, 2), ("cross", 1, 0), ("cross", 1, 3))
    assert heads_off.to_url(off) == "encoder.0.2,cross.1.0,cross.1.3"
    assert heads_off.parse(heads_off.to_url(off)) == (off, [])
    assert heads_off.parse("") == ((), [])
    assert heads_off.describe(off) == "3 heads off: encoder L0 H2, cross L1 H0, cross L1 H3"


@pytest.mark.parametrize("raw", ["cross.1", "attn.0.0", "cross.-1.0", "<b>x</b>", "cross.1.0;encoder.0.0"])
def test_a_bad_head_in_the_url_is_named(raw):
    off, notices = heads_off.parse(raw)
    assert off == () and len(notices) == 1 and "kind.layer.head" in notices[0]


def test_heads_the_model_lacks_are_switched_back_on_with_a_notice():
    off, notices = heads_off.fit((("encoder", 0, 1), ("cross", 2, 0), ("decoder", 0, 7)), N_LAYERS, 4)
    assert off == (("encoder", 0, 1),)
    assert len(notices) == 1 and "cross L2 H0" in notices[0] and "decoder L0 H7" in notices[0]


def test_every_head_or_a_whole_kind_off_is_explained():
    every = heads_off.every_head(N_LAYERS, 4)
    assert len(every) == 24
    assert "Every attention head is off" in heads_off.warnings(every, N_LAYERS, 4)[0]
    cross = tuple(h for h in every if h[0] == "cross")
    (warning,) = heads_off.warnings(cross, N_LAYERS, 4)
    assert "cannot read the source" in warning
    assert heads_off.warnings((("cross", 0, 0),), N_LAYERS, 4) == []
    assert heads_off.hooks(()) is None


# --- scores -------------------------------------------------------------------------------------------


def _trace_logp(m, text: str, tgt_text: str | None, off=()) -> np.ndarray:
    """Log-probability of each predicted piece from a plain library trace (teacher-forced)."""
    t = m.trace(text, target=tgt_text, interventions=heads_off.hooks(off))
    following = [*t.tgt_ids[1:], m.config.eos_id]
    return np.log(t.probs[np.arange(len(following)), following].numpy())


@needs_toy
def test_batched_scores_equal_one_trace_per_set_of_heads():
    """piece_scores runs several sets of heads off as one batch; each row equals its own library trace."""
    m = load_pretrained(TOY)
    t = m.trace("c a f b d e")
    variants = [
        (),
        (("cross", 1, 0),),
        (("encoder", 0, 1), ("decoder", 1, 3)),
        heads_off.every_head(N_LAYERS, 4),
    ]
    s = piece_scores(m.model, t.src_ids, t.tgt_ids, variants)
    for row, off in enumerate(variants):
        expected = _trace_logp(m, "c a f b d e", t.tgt_text, off)
        np.testing.assert_allclose(s.logp[row], expected, atol=2e-5, err_msg=str(off))
    assert (s.rank[0] == 1).all()  # greedy: every piece of the model's own translation is its first choice


@needs_toy
def test_heads_table_ranks_every_head_by_the_drop_of_a_single_ablation():
    m = load_pretrained(TOY)
    t = m.trace("j i h c a")
    table = results.head_effects(m.model, t.src_ids, t.tgt_ids, N_LAYERS, 4)
    assert len(table) == 24 and table["rank"].tolist() == list(range(1, 25))
    assert table["logp_change"].is_monotonic_increasing
    before = _trace_logp(m, "j i h c a", t.tgt_text).sum()
    top = table.iloc[0]
    after = _trace_logp(m, "j i h c a", t.tgt_text, ((top["kind"], top["layer"], top["head_index"]),)).sum()
    assert top["logp_change"] == pytest.approx(after - before, abs=1e-4)
    assert top["logp_change"] < 0


# --- the reverse model needs its anti-diagonal heads ----------------------------------------------------


def anti_diagonal_heads(m, texts: list[str], threshold: float = 0.5) -> list[tuple[str, int, int]]:
    """Cross-attention heads whose rows (by piece predicted) put on average > threshold on the mirrored source piece."""
    mass = np.zeros((m.config.n_decoder_layers, m.config.n_heads))
    for text in texts:
        cross = m.trace(text).attention["cross"].numpy()  # (L, H, T, S): row t predicts output piece t
        n = len(text.split())
        mass += np.mean([cross[:, :, t, n - 1 - t] for t in range(n)], axis=0) / len(texts)
    return [("cross", int(layer), int(h)) for layer, h in zip(*np.nonzero(mass > threshold), strict=True)]


def exact_match(m, texts: list[str], off=()) -> float:
    hooks = heads_off.hooks(heads_off.normalise(off))
    return float(
        np.mean([m.trace(t, interventions=hooks).tgt_text.split() == t.split()[::-1] for t in texts])
    )


@needs_toy
def test_switching_off_the_anti_diagonal_heads_breaks_the_reverse_model():
    """The cross-attention heads that carry the anti-diagonal do the reversing: with them off, the toy model
    that reverses every sequence exactly reverses almost none (and the app's heads view says so)."""
    m = load_pretrained(TOY)
    rng = random.Random(0)
    texts = [" ".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 10))) for _ in range(50)]
    heads = anti_diagonal_heads(m, texts[:10])
    assert heads, "no cross-attention head carries the anti-diagonal"
    before, after = exact_match(m, texts), exact_match(m, texts, heads)
    print(
        f"reverse: anti-diagonal heads {heads}; exact match {before:.2f} -> {after:.2f} on {len(texts)} sequences"
    )
    assert before >= 0.95
    assert after <= 0.2


# --- sessions never see each other's experiment ------------------------------------------------------


@needs_toy
def test_concurrent_sessions_with_and_without_heads_off_keep_their_own_runs():
    """Threads share one cached model; half switch heads off (decoding and capture), half do not: each gets
    exactly its sequential result, and no hook is left behind."""
    path = str(available_models()[TOY])
    stamp = models.stamp(path)
    model = models.load_model(path, stamp)
    off = (("cross", 1, 0), ("cross", 1, 1), ("cross", 1, 2), ("cross", 1, 3))
    jobs = [(text, o) for text in ("c a f b", "j i h g f e d", "d a d b e e c") for o in ((), off)]
    expected = {
        (text, o): model.trace(text, interventions=heads_off.hooks(o)).attention["cross"].numpy()
        for text, o in jobs
    }
    expected_scores = {}
    for text, o in jobs:
        t = model.trace(text)
        expected_scores[(text, o)] = piece_scores(model.model, t.src_ids, t.tgt_ids, [o]).logp[0]
    models.get_trace.clear()
    got, scores = {}, {}

    def work(text, o):
        got[(text, o)] = models.get_trace(Run(path, stamp, text, 1, 0, o))
        t = model.trace(text)
        scores[(text, o)] = piece_scores(model.model, t.src_ids, t.tgt_ids, [o]).logp[0]

    at_once(work, jobs)
    assert set(got) == set(jobs)
    for job in jobs:
        np.testing.assert_allclose(got[job].attention["cross"], expected[job], atol=1e-6, err_msg=str(job))
        np.testing.assert_allclose(scores[job], expected_scores[job], atol=1e-5, err_msg=str(job))
    assert not any(len(mod._forward_hooks) for mod in model.model.modules())


def test_the_set_hooks_zero_exactly_its_heads_output():
    """heads_off.hooks zeroes hook_z of exactly the heads in the set, one hook per (kind, layer), every batch row."""
    import torch

    hooks = heads_off.hooks((("cross", 1, 0), ("cross", 1, 2), ("encoder", 0, 1)))
    assert sorted(path for path, _ in hooks) == [
        "decoder.layers.1.cross_attn.hook_z",
        "encoder.layers.0.self_attn.hook_z",
    ]
    z = torch.ones(3, 4, 5, 8)  # (B, H, T_q, d_head)
    out = dict(hooks)["decoder.layers.1.cross_attn.hook_z"](None, (), z)
    assert (out[:, [0, 2]] == 0).all() and (out[:, [1, 3]] == 1).all() and (z == 1).all()  # a copy, zeroed


@needs_toy
@pytest.mark.parametrize("beam", [1, 4])
def test_the_comparison_decodes_as_the_traced_views_do(beam):
    """results.compare decodes without capturing; its translation equals the traced run's (the views')."""
    path = str(available_models()[TOY])
    stamp = models.stamp(path)
    off = (("cross", 1, 1), ("cross", 1, 2), ("encoder", 0, 0))
    run = Run(path, stamp, "b a g e c a f", beam, 0, off)
    c = results.compare(run)
    traced = models.get_trace(run)
    assert c.ablated == traced.tgt_tokens[1:] and c.ablated_text == traced.tgt_text
    assert c.original == models.get_trace(run.own).tgt_tokens[1:]
    assert len(c.pieces) == len(c.before) == len(c.after) == len(c.original) + 1  # and </s>


@needs_toy
def test_the_csv_export_follows_the_experiment():
    """The sidebar's CSV holds the attention the views draw: with heads off, the ablated run's."""
    from app_support import export

    path = str(available_models()[TOY])
    run = Run(path, models.stamp(path), "c a f b d e", 1, 0)
    intact = export.attention_csv(run)
    ablated = export.attention_csv(run.but(off=(("cross", 0, 0), ("cross", 0, 1))))
    typed = export.attention_csv(run.but(target="e d b"))
    assert intact != ablated and intact != typed
    assert export.attention_csv(run.but(off=(), target=None)) == intact


# --- one definition of "the translation changes" ----------------------------------------------------------


@needs_toy
@pytest.mark.parametrize("beam", [1, 4])
def test_one_batched_decode_per_set_equals_each_decoded_alone(beam):
    """Pretrained.decoder_inputs (the ranking's one batched decode) = decoder_input with that set's hooks (the
    comparison's and the traced views' decode), set by set."""
    m = load_pretrained(TOY)
    src, _ = m.encode_source("b a g e c a f")
    variants = [(), (("cross", 1, 1),), (("cross", 1, 0), ("cross", 1, 2)), heads_off.every_head(N_LAYERS, 4)]
    alone = [m.decoder_input(src, beam, None, heads_off.hooks(v)) for v in variants]
    assert m.decoder_inputs(src, variants, beam) == alone
    assert len({tuple(ids) for ids in alone}) > 1  # the sets do change the translation


@pytest.mark.skipif("en-de" not in available_models(), reason="needs the shipped en-de model")
def test_special_pieces_are_never_generated_even_with_every_head_off():
    """With every head off en-de wrote `<s> <s>` as words; now no special piece but the final `</s>`."""
    m = load_pretrained("en-de")
    src, _ = m.encode_source("I know that she speaks German.")
    every = heads_off.every_head({"encoder": 3, "decoder": 3, "cross": 3}, 4)
    specials = {m.config.bos_id, m.config.pad_id, m.config.eos_id, m.config.start_id}
    for beam in (1, 4):
        (ids,) = m.decoder_inputs(src, [every], beam)
        assert ids[0] == m.config.start_id and not specials & set(ids[1:]), m.tokenizer.pieces(ids)


def _toy_run(text: str, beam: int = 4) -> Run:
    path = str(available_models()[TOY])
    return Run(path, models.stamp(path), text, beam, 0)


@needs_toy
def test_the_ranking_and_the_comparison_count_the_same_changed_pieces():
    """The top DECODED rows of the ranking say what re-decoding with that head off does, with the count
    the comparison's metric gives when that head is switched off; rows below are not decoded."""
    run = _toy_run("j i h c a")
    table = results.heads_table(run)
    top = table.iloc[: results.DECODED]
    assert table["differ"].iloc[results.DECODED :].isna().all()
    for _, row in top.iterrows():
        c = results.compare(run.but(off=((row["kind"], int(row["layer"]), int(row["head_index"])),)))
        assert (row["differ"], row["translation"]) == (c.differ, c.ablated_text), row["head"]
        assert c.differ == results.differ(c.original, c.ablated)[0] and (c.differ == 0) == (
            c.original == c.ablated
        )


@pytest.mark.skipif("en-de" not in available_models(), reason="needs the shipped en-de model")
def test_the_ranking_top_row_on_en_de_changes_the_translation_as_its_comparison_shows():
    """Issue 24: the ranking read 0 for its top row (teacher-forced first choices, unchanged because "spricht"
    is not the model's first choice there even with every head on) while switching it off turned "spricht"
    into "sprechen"; now the row, the metric and the translations agree."""
    path = str(available_models()["en-de"])
    run = Run(path, models.stamp(path), "I know that she speaks German.", 4, 0)
    table = results.heads_table(run)
    first = table.iloc[0]
    assert first["head"] == "decoder L2 H2" and first["differ"] == 1
    assert first["translation"] == "Ich weiß, dass sie Deutsch sprechen."
    c = results.compare(run.but(off=(("decoder", 2, 2),)))
    assert (c.differ, c.slots, c.ablated_text) == (1, 8, first["translation"])
    assert c.original_text == "Ich weiß, dass sie Deutsch spricht."


# --- words that say what the numbers say ------------------------------------------------------------------


def test_counts_and_the_heads_view_sentences_agree_with_their_numbers():
    from app_support.views import heads as heads_view

    assert [heads_off.count(n, "piece") for n in (0, 1, 2)] == ["0 pieces", "1 piece", "2 pieces"]
    assert heads_off.describe((("cross", 1, 0),)) == "1 head off: cross L1 H0"
    assert heads_view.differ_value(0, 8) == "unchanged" and heads_view.differ_value(1, 8) == "1 of 8"
    assert len(heads_view.differ_value(10, 10)) <= 8  # a metric's value Streamlit never cuts at 1280 px
    caption = heads_view.ranking_caption(36, 12)
    assert (
        caption.startswith("Each of the 36 heads switched off alone")
        and "The top 12 are translated" in caption
    )


def test_the_banner_says_what_runs_without_a_double_full_stop_or_an_emoji():
    from app_support.experiment import session

    text = session.banner_text((("decoder", 2, 2),), "Ich weiß, dass sie Deutsch spricht.", False)
    assert text.startswith("**Experiment, not the model as trained:** 1 head off: decoder L2 H2 · traced on")
    assert "spricht. `\n\n" in text and ".." not in text.replace("`", "").replace(" ", "")
    assert "Every figure below shows this run. A head switched off" in text
    typed_only = session.banner_text((), "a b", True)
    assert "not traced here" in typed_only and "head switched off" not in typed_only
    assert session.SCIENCE.startswith(":material/")  # a font icon, not an emoji a system font may lack
    for source in (
        "app_support/experiment/session.py",
        "app_support/views/score.py",
        "app_support/views/heads.py",
    ):
        text = open(source, encoding="utf-8").read()
        assert not [c for c in text if ord(c) >= 0x1F000], source  # no emoji (🧪 showed as an empty box)


def _scores(pieces, probs, ranks, tops=None):
    import viz

    tops = tops or pieces
    return viz.piece_score_frame(pieces, np.log(probs), ranks, tops, np.log([0.9] * len(pieces)))


def test_the_score_views_sentences_agree_with_their_numbers():
    from app_support.views import score

    none = _scores(["▁a", "▁b", "</s>"], [0.9, 0.8, 0.95], [1, 1, 1])
    assert score.summary(none) == (
        "No piece surprises the model: each of its 3 pieces has probability 0.1 or more. "
        "The model ranks every piece first (#1 beside its bar: its rank among all pieces)."
    )
    one = _scores(["▁a", "▁b", "</s>"], [0.9, 0.05, 0.95], [1, 4, 1])
    assert score.summary(one) == (
        "1 of 3 pieces surprises the model (orange: probability below 0.1). At 1 of them the model's first "
        "choice is another piece, named beside its bar."
    )
    two = score.summary(_scores(["▁a", "▁b", "</s>"], [0.02, 0.05, 0.95], [9, 4, 2]))
    assert two.startswith("2 of 3 pieces surprise the model") and "At 3 of them the model's first" in two
    assert score.summary(_scores(["</s>"], [0.9], [1])).startswith(
        "No piece surprises the model: its one piece"
    )
    assert score.summary(_scores(["</s>"], [0.01], [3])).startswith("1 of 1 piece surprises the model")


def test_a_typed_piece_the_model_prefers_over_its_own_translation_is_said_in_plain_words():
    """Issue 24: "sprechen" for "spricht" is ranked #1 (p ≈ 0.57): the page says the model prefers it and is
    no grammar checker; a piece where both agree is not named."""
    from app_support.views import score

    own = ["▁Ich", "▁weiß", ",", "▁dass", "▁sie", "▁Deutsch", "▁spricht", "."]
    typed = [*own[:6], "▁sprechen", ".", "</s>"]
    frame = _scores(typed, [0.76, 0.94, 0.88, 0.82, 0.95, 0.96, 0.5681, 0.31, 0.95], [1] * 9)
    said = score.preferred(frame, own)
    assert said.startswith(
        "The model itself prefers ` ▁sprechen ` (p = 0.57; its own translation has ` ▁spricht `): it is not"
    )
    assert "model ranks it first where it stands" in said and "not a grammar checker" in said
    assert score.preferred(frame.assign(rank=[1] * 6 + [2, 1, 1]), own) is None  # ranked #2: not its choice
    moved = [*own[:5], "▁Englisch", "▁sprechen", ".", "</s>"]  # two pieces the model did not write, both #1
    both = score.preferred(_scores(moved, [0.9, 0.9, 0.9, 0.9, 0.9, 0.2, 0.5681, 0.3, 0.9], [1] * 9), own)
    assert both.startswith(
        "The model itself prefers ` ▁Englisch ` (p = 0.20; its own translation has ` ▁Deutsch `)"
    )
    assert "` ▁sprechen ` (p = 0.57; its own translation has ` ▁spricht `): they are" in both
    assert "model ranks each first where they stand" in both
    added = score.preferred(_scores([*own[:7], "▁gut", ".", "</s>"], [0.9] * 8 + [0.4, 0.9], [1] * 10), own)
    assert added.startswith(
        "The model itself prefers ` ▁gut ` (p = 0.90): it is not"
    )  # nothing of its own there
    assert score.preferred(_scores([*own, "</s>"], [0.9] * 9, [1] * 9), own) is None  # its own translation


@pytest.mark.skipif("en-de" not in available_models(), reason="needs the shipped en-de model")
def test_a_typed_translation_in_another_script_gets_a_notice_naming_its_characters():
    from app_support.views import score

    m = load_pretrained("en-de")
    typed = "Я знаю, что она говорит по-немецки."
    notice = score.unreadable(typed, m, m.tokenizer.pieces(m.tokenizer.encode_target(typed)))
    assert notice.startswith("Your translation has characters this model has no piece for: ` Я з н а ю")
    chars = "".join(dict.fromkeys(c for c in typed if c.isalpha()))
    assert md_code(" ".join(chars), 40) in notice  # every character it cannot read, the first 40 characters
    assert ". It reads each as raw UTF-8 bytes (` <0xD0> ` …)" in notice
    assert score.unreadable("Ich weiß, dass sie Deutsch sprechen.", m, []) is None
