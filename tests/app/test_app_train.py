"""Issue 21 through `AppTest`: the Train live view trains a model while the page watches (Play until exact
match reaches 0.9 on a tiny task of typed pairs), the trained model joins the session's model picker, a link
carries every setting, and bad settings or a full queue are said in words, never a traceback."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile

import numpy as np
import pytest

from app_support.training import spec as S
from app_support.views import train as train_view
from tests.support.apptest import assert_clean, attention_maps, figures, run_app
from tests.support.figure_json import array_of
from transformer import load_pretrained

# every 3-letter word over a, b, reversed, five times: the held-out pairs were seen, so a tiny model gets them
WORDS = [f"{x}{y}{z}" for x in "ab" for y in "ab" for z in "ab"]
PAIRS = "\n".join(f"{w} -> {w[::-1]}" for w in WORDS * 5)
TINY = {"task": "own", "pairs": PAIRS, "split": "char", "enc": "1", "dec": "1", "nheads": "2", "dmodel": "16", "dff": "32",
            "lr": "0.01", "warmup": "20", "budget": "3000"}  # fmt: skip
BUDGET = 120.0  # seconds for the whole run on a loaded 2-core machine (a quiet one: about 10)


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_play_trains_typed_pairs_until_exact_match_reaches_90_percent_and_the_model_joins_the_picker(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(train_view.model_dirs, "ROOT", tmp_path)  # Save writes runs/ here, not in the project
    at = run_app(view="train", **TINY)
    assert_clean(at)
    assert metric(at, "Step") == "0" and metric(at, "Exact match") == "–"
    at.button(key="train_play").click().run()
    assert at.button(key="train_play").disabled and not at.button(key="train_pause").disabled
    end, exact = time.monotonic() + BUDGET, 0.0
    while time.monotonic() < end:
        time.sleep(0.5)
        at.run()
        shown = metric(at, "Exact match")
        if shown != "–" and (exact := float(shown.rstrip("%")) / 100) >= 0.9:
            break
    assert exact >= 0.9, f"exact match {exact} after {BUDGET} s"
    assert int(metric(at, "Step").replace(",", "")) > 0
    curves = next(f for f in figures(at) if any(t.get("name") == "exact match" for t in f["data"]))
    assert np.nanmax(array_of(curves["data"][2]["y"])) >= 0.9
    (config,) = [json.loads(el.proto.config) for el in at.get("plotly_chart")]
    assert re.fullmatch(r"live-own_train_curves_step\d+", config["toImageButtonOptions"]["filename"]), config
    (heatmap,) = attention_maps(at)
    # char pieces: the word boundary ▁ and 3 letters; rows read <s> then the answer's, columns end with </s>
    assert (heatmap.rows, heatmap.cols, heatmap.x_labels[-1], heatmap.y_labels[0]) == (5, 5, "</s>", "<s>")

    at.button(key="train_pause").click().run()
    end = time.monotonic() + 30
    while at.button(key="train_play").disabled and time.monotonic() < end:
        time.sleep(0.3)
        at.run()
    assert not at.button(
        key="train_play"
    ).disabled  # paused: Play again, and the model is saved for the picker
    at.text_input(key="train_try").input("abb").run()  # what the class types: answered by the paused worker
    end = time.monotonic() + 30
    while not any("→" in m.value for m in at.markdown if "abb" in m.value) and time.monotonic() < end:
        time.sleep(0.3)
        at.run()
    assert any(m.value.startswith("` abb ` → ` bba ` (at step ") for m in at.markdown), [
        m.value for m in at.markdown
    ]
    at.text_input(key="train_try").input("abz").run()
    assert "'z' is not among them" in " ".join(w.value for w in at.warning)
    step = int(metric(at, "Step").replace(",", ""))
    assert (
        attention_maps(at)[0].title == f"Step {step:,}" and at.select_slider(key="train_rewind").value == step
    )
    at.select_slider(key="train_rewind").set_value(0).run()  # rewind to the initialisation
    (start,) = attention_maps(at)
    assert start.title == "Step 0" and start.values != heatmap.values
    assert at.select_slider(key="train_rewind").value == 0
    name = f"your own pairs{train_view.LIVE}"
    assert name in at.sidebar.selectbox(key="model").options
    assert at.query_params.get("model") != name  # a link never names it
    assert_clean(at)

    at.text_input(key="train_save_name").input("my run").run()  # a space: not a folder name we write
    at.button(key="train_save").click().run()
    assert "letters, digits" in " ".join(w.value for w in at.warning)
    at.text_input(key="train_save_name").input("my-run").run()
    at.button(key="train_save").click().run()
    assert "Saved to runs/my-run" in " ".join(s.value for s in at.success)
    saved = tmp_path / "runs" / "my-run"
    meta = json.loads((saved / "metadata.json").read_text())
    assert (
        meta["live"]["task"] == "own"
        and meta["live"]["pairs"] == PAIRS
        and meta["train_args"]["split"] == "char"
    )
    assert load_pretrained(saved).translate("abb", beam=1).replace(" ", "") == "bba"
    files = zipfile.ZipFile(io.BytesIO(train_view._zip(str(saved), "mine"))).namelist()
    assert {
        "mine/config.json",
        "mine/model.safetensors",
        "mine/tokenizer.model",
        "mine/metadata.json",
    } <= set(files)
    at.button(key="train_save").click().run()
    assert "already exists" in " ".join(w.value for w in at.warning)

    at.sidebar.selectbox(key="model").select(name).run()  # every view works on it
    at.segmented_control(key="view_see").set_value("attention").run()
    assert_clean(at)
    assert at.session_state["model"] == name and attention_maps(at)


def test_a_link_carries_every_setting_and_the_same_run_from_a_terminal():
    at = run_app(view="train", task="sort", nheads="2", dmodel="24", lr="0.002", warmup="300", seed="7",
                 budget="5000", enc="3")  # fmt: skip
    assert_clean(at)
    got = {
        k: at.query_params[k] for k in ("task", "nheads", "dmodel", "lr", "warmup", "seed", "budget", "enc")
    }
    assert got == {"task": "sort", "nheads": "2", "dmodel": "24", "lr": "0.002", "warmup": "300", "seed": "7",
                   "budget": "5000", "enc": "3"}  # fmt: skip
    command = next(c.value for c in at.code if "python -m transformer.train" in c.value)
    for part in ("--task sort", "--enc-layers 3", "--heads 2", "--d-model 24", "--peak-lr 0.002", "--warmup 300",
                 "--seed 7", "--steps 5000"):  # fmt: skip
        assert part in command


@pytest.mark.parametrize(
    "params, says",
    [
        (
            {"task": "own", "pairs": "a -> b\nno arrow\n -> c\nd -> e"},
            ["Line 2 has no `->`", "Line 3: one side"],
        ),
        ({"task": "own", "pairs": ""}, [f"Type at least {S.MIN_PAIRS} pairs"]),
        ({"dmodel": "20", "nheads": "3"}, ["d_model (20) must divide evenly among the heads (3)"]),
    ],
)
def test_bad_settings_are_said_and_nothing_trains(params, says):
    at = run_app(view="train", **params)
    assert not at.exception, [e.message for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    for part in says:
        assert part in errors
    assert all(b.key != "train_play" for b in at.button)  # no Play to press until the settings are right


def test_an_unreadable_link_value_is_ignored_with_a_notice():
    at = run_app(view="train", lr="fast", nheads="9")
    warnings = " ".join(w.value for w in at.warning)
    assert "`lr`" in warnings and "not a number from 0.0001 to 0.1" in warnings and "`nheads`" in warnings
    assert at.number_input(key="train_lr").value == S.TrainSpec().lr


def test_a_full_queue_is_said_on_the_page():
    r = train_view.runner()
    slots, queue_max = r.slots, r.queue_max
    r.slots, r.queue_max = 0, 0  # every slot taken, no room to wait
    try:
        at = run_app(view="train")
        at.button(key="train_play").click().run()
        assert any("runs are waiting for this server's 0 training slots" in w.value for w in at.warning)
        assert not at.button(key="train_play").disabled  # nothing queued: Play stays on offer
    finally:
        r.slots, r.queue_max = slots, queue_max
