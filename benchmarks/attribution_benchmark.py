"""How long each attribution method takes for a 15-word sentence, beside the trace it explains.

    python benchmarks/attribution_benchmark.py            # prints a Markdown table
    python benchmarks/attribution_benchmark.py --quick    # fewer repetitions

`transformer.attribution.attribute(model, trace, method)` for every method, on the shipped en-de model and the
toy `copy` model (each with the model's own `Pretrained.trace` of the same sentence, greedy, timed in the same
run: the ratio column is method / trace), and on a random model of opus-mt's shape (a converted Marian
model: `benchmarks/marian_benchmark.OPUS_MT`, the tokenizer of en-de standing in; its trace decodes the
20 pieces a real translation has, as in that benchmark). The app runs torch on one thread per request
(APP_TORCH_THREADS), so `--threads 1` (the default) is what a person sees. Cases are interleaved round by round
(A, B, C, A, B, C, ...) after one warm-up round; medians of wall time (time.perf_counter) and of the
process's CPU time (time.process_time). Targets (the issue): grad × input ≤ 1 s, integrated gradients
(20 steps) ≤ 3 s of server CPU for a 15-word sentence.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.marian_benchmark import OPUS_MT, TARGET_PIECES, interleaved  # noqa: E402
from transformer import Pretrained, Transformer, load_pretrained  # noqa: E402
from transformer.attribution import METHODS, attribute  # noqa: E402
from transformer.trace import capture_trace  # noqa: E402

SENTENCE = "The old man and his young daughter walked slowly to the small station near the river yesterday."
TOY = "a c e g i b d j h f a c e g i"  # 15 words of the toy models' alphabet


def opus_mt_shaped() -> tuple[Pretrained, list[int]]:
    """A random model of opus-mt's shape, with en-de's tokenizer for the source; a 20-piece target."""
    torch.manual_seed(0)
    model = Pretrained(Transformer(OPUS_MT).eval(), load_pretrained("en-de").tokenizer, name="opus-mt shape")
    tgt = [OPUS_MT.decoder_start_id] + torch.randint(1, 50000, (TARGET_PIECES,)).tolist()
    return model, tgt


def cases(model: Pretrained, text: str, tgt: list[int] | None = None) -> tuple[list, dict]:
    """The timed calls for one model: its trace, then each method on that trace (numpy, as the app caches it)."""
    src, _ = model.encode_source(text)
    if tgt is None:
        trace = model.trace(text).numpy()
        run_trace = lambda: model.trace(text)  # noqa: E731
    else:  # a random model never stops: trace a fixed target (decoding it is marian_benchmark's business)
        trace = capture_trace(model.model, src, tgt).numpy()
        run_trace = lambda: capture_trace(model.model, src, tgt)  # noqa: E731
    out = [("trace", run_trace)]
    for method in METHODS:
        out.append((method, lambda m=method: attribute(model, trace, m)))
    return out, {"S": len(trace.src_ids), "T": len(trace.tgt_ids)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 7")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1 per request)")
    parser.add_argument("--no-opus", action="store_true", help="skip the opus-mt-shaped model")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else 7
    models = [
        ("en-de", load_pretrained("en-de"), SENTENCE, None),
        ("copy (toy)", load_pretrained("copy"), TOY, None),
    ]
    if not args.no_opus:
        opus, tgt = opus_mt_shaped()
        models.append(("opus-mt shape (random)", opus, SENTENCE, tgt))
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {repeats}\n")
    print("| model | pieces S × T | what | CPU s | wall s | × trace (CPU) |")
    print("|---|---|---|---|---|---|")
    for name, model, text, tgt in models:
        timed, size = cases(model, text, tgt)
        times = interleaved(timed, repeats)
        cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
        wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
        for what in times:
            print(
                f"| {name} | {size['S']} × {size['T']} | {what} | {cpu[what]:.3f} | {wall[what]:.3f} | "
                f"{cpu[what] / cpu['trace']:.2f} |"
            )


if __name__ == "__main__":
    main()
