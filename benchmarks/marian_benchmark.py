"""Trace latency at opus-mt size: what the app does with a converted Marian model, on random weights.

    python benchmarks/marian_benchmark.py            # prints a Markdown table
    python benchmarks/marian_benchmark.py --quick    # fewer repetitions

The model has Helsinki-NLP/opus-mt-en-de's shape and configuration as `python -m transformer.marian`
writes it (6 + 6 layers, 8 heads, d_model 512, d_ff 2048, vocabulary 58,101, SiLU, Marian's sinusoids,
post-norm, tied embeddings, decoding starts with the pad id), with random weights: the latency of a trace
depends on the shape, not on the values. A 15-word English sentence is about 18 pieces + </s> with
opus-mt's tokenizer; its German translation about 20. A random model never says </s>, so the rows say
how many decoding steps they take: "20 steps" is a real translation's length, "2 × source + 10" the
cap a model that never stops would run into.

A trace (`Pretrained.trace`, the app's `get_trace`) = greedy decoding (or beam search) with the KV cache
+ one captured teacher-forced pass. The app runs torch on one thread per request (APP_TORCH_THREADS), so the 1-thread
rows are what a person sees. Cases are interleaved round by round; medians and fastest runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformer import Transformer, TransformerConfig  # noqa: E402
from transformer.decoding import beam_search, greedy_decode  # noqa: E402
from transformer.trace import capture_trace  # noqa: E402

OPUS_MT = TransformerConfig(
    src_vocab_size=58101, tgt_vocab_size=58101, d_model=512, n_heads=8, n_encoder_layers=6, n_decoder_layers=6,
    d_ff=2048, dropout=0.1, max_len=512, positional="sinusoidal_split", norm="post", tie_embeddings=True,
    pad_id=58100, unk_id=1, bos_id=None, eos_id=0, activation="silu", scale_embedding=True,
    decoder_start_id=58100,
)  # fmt: skip
SOURCE_PIECES = 18  # a 15-word English sentence with opus-mt's source.spm, before </s>
TARGET_PIECES = 20


def interleaved(cases: list[tuple[str, object]], repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of each case over `repeats` rounds, one run of every case per round (A, B, C,
    A, B, C, ...), so background load hits all of them alike; one warm-up round first. CPU time is the
    process's (time.process_time): with one torch thread it is what the run takes on an idle core, even
    while other programs share the machine."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in cases}
    for round_ in range(repeats + 1):
        for name, fn in cases:
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            if round_:
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def trace(model: Transformer, src_ids: list[int], steps: int, full: bool = False, beam: int = 1) -> None:
    """What Pretrained.trace does once the sentence is ids: decode `steps` pieces, then capture."""
    src, forbidden = torch.tensor([src_ids]), [OPUS_MT.pad_id]
    if beam == 1:
        out = greedy_decode(model, src, steps, forbidden_ids=forbidden)[0].tolist()
    else:
        out = beam_search(model, src, beam=beam, max_len=steps, forbidden_ids=forbidden).tolist()
    capture_trace(model, src_ids, out, full=full)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads to measure with")
    args = p.parse_args(argv)
    repeats = 3 if args.quick else 7
    torch.manual_seed(0)
    model = Transformer(OPUS_MT).eval()
    g = torch.Generator().manual_seed(1)
    src_ids = torch.randint(2, 58000, (SOURCE_PIECES,), generator=g).tolist() + [OPUS_MT.eos_id]
    cap = 2 * len(src_ids) + 10
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        cases = [
            (f"trace, {TARGET_PIECES} steps (a real translation's length)", lambda: trace(model, src_ids, TARGET_PIECES)),
            (f"trace, {cap} steps (2 × source + 10: a model that never stops)", lambda: trace(model, src_ids, cap)),
            (f"trace with beam 4 (the app's default), {TARGET_PIECES} steps",
             lambda: trace(model, src_ids, TARGET_PIECES, beam=4)),
            (f"full trace (every hook point, the Anatomy view), {TARGET_PIECES} steps",
             lambda: trace(model, src_ids, TARGET_PIECES, full=True)),
            (f"greedy decoding alone, {TARGET_PIECES} steps",
             lambda: greedy_decode(model, torch.tensor([src_ids]), TARGET_PIECES)),
        ]  # fmt: skip
        with torch.no_grad():
            for name, runs in interleaved(cases, repeats).items():
                wall, cpu = zip(*runs)
                rows.append((threads, name, statistics.median(wall), min(wall), statistics.median(cpu)))
    print(
        f"opus-mt-en-de shape, random weights: {model.num_parameters() / 1e6:.1f} M parameters; source "
        f"{len(src_ids)} pieces; torch {torch.__version__}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end; {repeats} interleaved rounds\n"
    )
    print("| threads | measurement | wall, median | wall, fastest | CPU time, median | target |")
    print("|---:|---|---:|---:|---:|---|")
    for threads, name, median, fastest, cpu in rows:
        target = "≤ 1 s" if name.startswith("trace") and threads == 1 else ""
        ms = lambda x: f"{x * 1000:,.0f} ms"  # noqa: E731
        print(f"| {threads} | {name} | {ms(median)} | {ms(fastest)} | {ms(cpu)} | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
