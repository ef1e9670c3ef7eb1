"""Model cards: written from what the model directory and its run recorded."""

import json
import shutil

import pytest

from tools.card import extract_command, metrics_note, rebuild_command
from tools.card import main as card_main
from transformer.pretrained import ASSETS, load_pretrained


def test_rebuild_command_keeps_what_shapes_the_model_and_drops_the_rest():
    cmd = rebuild_command({
        "data": "data/freedict", "task": None, "task_size": 20000, "d_model": 256, "bf16": True,
        "resume": True, "threads": 8, "quiet": True, "no_tie": False, "export": None,
    })  # fmt: skip
    assert "--data data/freedict" in cmd and "--d-model 256" in cmd and "--bf16" in cmd
    for gone in ("--task-size", "--resume", "--threads", "--quiet", "--no-tie", "--export", "--task "):
        assert gone not in cmd
    toy = rebuild_command({"task": "reverse", "task_size": 500, "vocab_size": 8000})
    assert "--task-size 500" in toy and "--vocab-size" not in toy


def test_toy_card_has_rebuild_architecture_and_loss_curve(tmp_path):
    model = tmp_path / "reverse"
    shutil.copytree(ASSETS / "reverse", model)
    (model / "README.md").unlink()
    run = tmp_path / "run"
    run.mkdir()
    log = [{"step": s, "train_loss": 3.0 / s} for s in (1, 2, 3)] + [{"step": 3, "valid_loss": 0.5}]
    (run / "log.jsonl").write_text("\n".join(json.dumps(r) for r in log) + "\n")
    assert card_main([str(model), "--run", str(run), "--samples", "2"]) == 0
    text = (model / "README.md").read_text()
    n = load_pretrained(model).model.num_parameters()
    assert f"**{n:,} parameters**" in text
    assert "python -m transformer.train" in text and "--task reverse" in text
    assert (model / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sample_rows = text.split("## Sample outputs")[1].split("\n\n")[1].splitlines()[2:]
    assert len(sample_rows) == 2


@pytest.mark.slow
def test_en_de_card_scores_test_files_and_alignment(tmp_path):
    model = tmp_path / "en-de"
    shutil.copytree(ASSETS / "en-de", model)
    items = json.loads((ASSETS.parent / "eval" / "everyday_en_de.json").read_text())["items"][:3]
    (tmp_path / "set.json").write_text(json.dumps({"items": items}))
    (tmp_path / "t.tsv").write_text("The house is old.\tDas Haus ist alt.\nGood morning.\tGuten Morgen.\n")
    args = [str(model), "--test", str(tmp_path / "t.tsv"), "--alignment", str(tmp_path / "set.json")]
    assert card_main(args) == 0
    text = (model / "README.md").read_text()
    assert "| `t.tsv` | 2 |" in text
    assert "python -m tools.average runs/en-de --last 5" in text  # the shipped weights are averaged
    for item in items:
        assert f"| {item['en']} |" in text
    n_layers = load_pretrained(model).config.n_decoder_layers
    assert text.count("| diagonal guess |") == 1
    assert (
        sum(line.startswith(f"| {i} | 0.") for line in text.splitlines() for i in range(n_layers)) == n_layers
    )
    assert (model / "alignment_1.png").is_file() and (model / "alignment_3.png").is_file()


def test_rebuild_uses_the_tool_command_lines_even_for_metadata_recorded_before_the_move():
    assert extract_command("python -m transformer.data freedict --out data/freedict") == (
        "python -m tools.freedict --out data/freedict"
    )
    assert extract_command("python -m tools.freedict --out d") == "python -m tools.freedict --out d"
    recorded = json.loads((ASSETS / "en-de" / "metadata.json").read_text())["source"]["extract"]
    assert extract_command(recorded).startswith("python -m tools.freedict")


def test_validation_note_explains_only_the_metrics_recorded():
    note = metrics_note({"valid_loss": 1.2, "valid_ppl": 3.3, "exact": 0.5})
    assert "`valid_ppl`" in note and "`exact`" in note and "BLEU" not in note
    assert "BLEU and chrF" in metrics_note({"valid_loss": 1.2, "bleu": 8.1, "chrf": 29.8})
