"""Device side of tools/gpu/sweep.sh: average each run's checkpoints, score the candidates on the
validation split (greedy chrF/BLEU) and the everyday sentences, pack the two best for the trip back.

    python3 tools/gpu/evaluate_runs.py RUNS_DIR OUT_DIR      (VALID_LIMIT=N scores only N pairs)
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import torch

sys.path.insert(0, ".")
from tools.alignment import load_set, translate_set  # noqa: E402
from tools.average import average_checkpoints, run_checkpoints  # noqa: E402
from tools.evaluate import corpus_scores  # noqa: E402
from transformer import data as D  # noqa: E402
from transformer.checkpoint import CONFIG, METADATA, TOKENIZER, WEIGHTS  # noqa: E402
from transformer.evaluate import translate_encoded  # noqa: E402
from transformer.pretrained import load_pretrained  # noqa: E402


def score(model_dir: Path, valid_data, valid_refs, everyday) -> dict:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    m = load_pretrained(model_dir, device=device)
    t = time.time()
    hyps = translate_encoded(m.model, m.tokenizer, valid_data.src, device, batch_size=250)
    valid = corpus_scores(hyps, valid_refs)
    out = {"valid_chrf": round(valid["chrf"], 2), "valid_bleu": round(valid["bleu"], 2)}
    ev, ev_scores = translate_set(m, everyday, beam=4)
    out["everyday_chrf"] = round(ev_scores["chrf"], 2)
    out["everyday_sample"] = ev[:5]
    out["seconds"] = round(time.time() - t, 1)
    return out


def one_run(run: Path) -> None:
    ckpts = run_checkpoints(run)
    if not ckpts:
        (run / "eval.json").write_text("[]")
        return
    data_dir = json.loads((ckpts[-1] / METADATA).read_text())["train_args"]["data"]
    pairs = D.read_tsv(Path(data_dir) / "valid.tsv")[: int(os.environ.get("VALID_LIMIT", 10**9))]
    m = load_pretrained(ckpts[-1])
    valid = D.encode_pairs(m.tokenizer, pairs, m.config.max_len, m.config.eos_id)
    refs = [m.tokenizer.decode(t) for t in valid.tgt]
    everyday = load_set()
    last = run / "last"  # model files only: the checkpoint also holds the optimizer state
    last.mkdir(exist_ok=True)
    for f in (CONFIG, WEIGHTS, TOKENIZER, METADATA):
        shutil.copy(ckpts[-1] / f, last / f)
    cands = {"last": last}
    # a model over the 32 MB budget in float32 ships as float16: score what would ship
    dtype = "float16" if (ckpts[-1] / WEIGHTS).stat().st_size > 32_000_000 else "float32"
    for k in (5, 10):
        if len(ckpts) >= k:
            cands[f"avg{k}"] = average_checkpoints(ckpts[-k:], run / f"avg{k}", dtype)
    results = []
    for name, d in cands.items():
        r = {
            "run": run.name,
            "candidate": name,
            "dir": str(d),
            "step": ckpts[-1].name,
            **score(d, valid, refs, everyday),
        }
        print(json.dumps(r, ensure_ascii=False), flush=True)
        results.append(r)
    (run / "eval.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))


def main() -> None:
    if sys.argv[1] == "--one":
        one_run(Path(sys.argv[2]))
        return
    runs, out = Path(sys.argv[1]), Path(sys.argv[2])
    procs = [
        subprocess.Popen([sys.executable, __file__, "--one", str(r)])
        for r in sorted(runs.iterdir())
        if r.is_dir()
    ]
    for p in procs:
        p.wait()
    results = []
    for r in sorted(runs.iterdir()):
        if (r / "eval.json").is_file():
            results += json.loads((r / "eval.json").read_text())
    results.sort(key=lambda r: -r["valid_chrf"])
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    for r in results:
        print(r["run"], r["candidate"], r["step"], r["valid_chrf"], r["valid_bleu"], r["everyday_chrf"])
    if not results:
        return
    picks = [results[0]] + [r for r in results if r["run"] != results[0]["run"]][:1]
    for i, r in enumerate(picks):
        tar = runs / f"pick{i}.tar"
        with tarfile.open(tar, "w") as t:
            t.add(r["dir"], arcname=f"{r['run']}-{r['candidate']}")
        subprocess.run(["split", "-b", "15m", "-d", str(tar), str(out / f"pick{i}.tar.part")], check=True)
        print("packed", r["run"], r["candidate"], tar.stat().st_size)


if __name__ == "__main__":
    main()
