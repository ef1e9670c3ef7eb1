"""Library benchmarks: our Transformer against torch.nn.Transformer, measured side by side in one run.

    python benchmarks/benchmark.py            # prints a Markdown table
    python benchmarks/benchmark.py --quick    # fewer repetitions

Ratios: against nn.Transformer for forward/training, against recomputing the prefix for the KV cache,
against a greedy translate for the default model's rows.

Each ratio compares two things timed in the same process, interleaved (A, B, A, B, ...), so
background load hits both alike. Times are medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformer import Transformer, TransformerConfig, record  # noqa: E402
from transformer.capture import hook_points  # noqa: E402
from transformer.decoding import greedy_decode  # noqa: E402
from transformer.trace import _default_points  # noqa: E402

CONFIG = TransformerConfig(
    src_vocab_size=8000, tgt_vocab_size=8000, d_model=256, n_heads=4, n_encoder_layers=3, n_decoder_layers=3,
    d_ff=1024, dropout=0.1, max_len=256,
)  # fmt: skip


class Reference(nn.Module):
    """nn.Transformer with the same config, our embeddings (×√d + PE) and output projection."""

    def __init__(self, ours: Transformer):
        super().__init__()
        cfg = ours.config
        self.src_embed, self.tgt_embed, self.generator = (
            ours.encoder.embed,
            ours.decoder.embed,
            ours.generator,
        )
        self.core = nn.Transformer(
            d_model=cfg.d_model, nhead=cfg.n_heads, num_encoder_layers=cfg.n_encoder_layers,
            num_decoder_layers=cfg.n_decoder_layers, dim_feedforward=cfg.d_ff, dropout=cfg.dropout, batch_first=True,
        )  # fmt: skip
        self.register_buffer(
            "causal", nn.Transformer.generate_square_subsequent_mask(cfg.max_len), persistent=False
        )

    def forward(self, src, tgt):
        T = tgt.shape[1]
        out = self.core(
            self.src_embed(src), self.tgt_embed(tgt), tgt_mask=self.causal[:T, :T], tgt_is_causal=True
        )
        return self.generator(out)


def interleaved(fns: dict, repeats: int, warmup: int = 3) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def forward_latency(repeats: int) -> list[tuple]:
    torch.manual_seed(0)
    ours = Transformer(CONFIG).eval()
    ref = Reference(ours).eval()
    src = torch.randint(4, 8000, (1, 32))
    tgt = torch.randint(4, 8000, (1, 32))

    def capture(paths):
        def run():
            with record(ours, paths):
                ours(src, tgt)

        return run

    with torch.inference_mode():
        t = interleaved(
            {
                "ref": lambda: ref(src, tgt),
                "off": lambda: ours(src, tgt),
                "on": capture(_default_points(ours)),
                "all": capture(list(hook_points(ours))),
            },
            repeats,
        )
    return [
        ("forward, batch 1, 32+32 tokens: nn.Transformer", t["ref"] * 1e3, "ms", 1.0, ""),
        ("forward: ours, capture off", t["off"] * 1e3, "ms", t["off"] / t["ref"], "≤ 1.05×"),
        (
            "forward: ours, capture on (what a trace records)",
            t["on"] * 1e3,
            "ms",
            t["on"] / t["ref"],
            "≤ 1.25×",
        ),
        (
            "forward: ours, every hook point recorded (a full trace)",
            t["all"] * 1e3,
            "ms",
            t["all"] / t["ref"],
            "",
        ),
    ]


def training_throughput(repeats: int) -> list[tuple]:
    torch.manual_seed(0)
    ours = Transformer(CONFIG).train()
    ref = Reference(Transformer(CONFIG)).train()
    src = torch.randint(4, 8000, (64, 32))
    tgt = torch.randint(4, 8000, (64, 32))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

    def step(model, opt):
        def run():
            logits = model(src, tgt)
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return run

    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    opt_ref = torch.optim.Adam(ref.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    t = interleaved({"ref": step(ref, opt_ref), "ours": step(ours, opt_ours)}, repeats, warmup=1)
    tokens = 64 * 32 * 2
    return [
        ("training, batch 64 × 32+32 tokens: nn.Transformer", tokens / t["ref"], "tokens/s", 1.0, ""),
        ("training: ours", tokens / t["ours"], "tokens/s", t["ref"] / t["ours"], "≥ 1.0×"),
    ]


def generation_model() -> tuple[Transformer, torch.Tensor]:
    """A random model that never stops early (always 64 new tokens) and one 32-token source."""
    torch.manual_seed(0)
    model = Transformer(CONFIG).eval()
    with torch.no_grad():
        model.generator.bias[CONFIG.eos_id] = -1e9
    return model, torch.randint(4, 8000, (1, 32))


def generation_speed(repeats: int) -> list[tuple]:
    model, src = generation_model()

    @torch.no_grad()
    def naive():  # what most tutorials do: the whole model again each step, every position projected
        ys = torch.full((1, 1), CONFIG.bos_id)
        for _ in range(64):
            ys = torch.cat([ys, model(src, ys)[:, -1].argmax(-1, keepdim=True)], dim=1)
        return ys

    t = interleaved(
        {
            "naive": naive,
            "recompute": lambda: greedy_decode(model, src, 64, use_cache=False),
            "cache": lambda: greedy_decode(model, src, 64, use_cache=True),
        },
        repeats,
        warmup=1,
    )
    rows = [
        ("greedy 64 tokens, batch 1: recompute the prefix (encoder output reused)", t["recompute"] * 1e3, "ms", 1.0, ""),
        ("greedy 64 tokens, batch 1: KV cache", t["cache"] * 1e3, "ms", t["recompute"] / t["cache"],
         "faster (memory-bound, no target)"),
        ("greedy 64 tokens, batch 1: whole model each step (naive)", t["naive"] * 1e3, "ms", t["naive"] / t["cache"],
         "KV cache speed-up over it"),
    ]  # fmt: skip
    batch = torch.randint(4, 8000, (16, 32))  # e.g. the trainer's validation translates in batches
    tb = interleaved(
        {
            "recompute": lambda: greedy_decode(model, batch, 64, use_cache=False),
            "cache": lambda: greedy_decode(model, batch, 64, use_cache=True),
        },
        max(1, repeats // 2),
        warmup=1,
    )
    rows += [
        ("greedy 64 tokens, batch 16: recompute the prefix", tb["recompute"] * 1e3, "ms", 1.0, ""),
        ("greedy 64 tokens, batch 16: KV cache", tb["cache"] * 1e3, "ms", tb["recompute"] / tb["cache"], "≥ 3× faster"),
    ]  # fmt: skip
    return rows


SENTENCE_15_WORDS = "My sister and I went to the market early this morning to buy fresh bread."


def default_model_speed(repeats: int) -> list[tuple]:
    """What the app does per sentence, on the shipped default model (assets/DEFAULT)."""
    from transformer import load_pretrained

    m = load_pretrained()
    assert len(SENTENCE_15_WORDS.split()) == 15
    t = interleaved(
        {
            "greedy": lambda: m.translate(SENTENCE_15_WORDS, beam=1),
            "beam": lambda: m.translate(SENTENCE_15_WORDS, beam=4),
            "trace": lambda: m.trace(SENTENCE_15_WORDS),
            "trace_full": lambda: m.trace(SENTENCE_15_WORDS, full=True),
        },
        repeats,
    )
    name = f"`{m.name}` model, 15-word sentence"
    return [
        (f"{name}: translate, greedy", t["greedy"] * 1e3, "ms", 1.0, ""),
        (f"{name}: translate, beam 4", t["beam"] * 1e3, "ms", t["beam"] / t["greedy"], ""),
        (f"{name}: trace (greedy decode + captured pass)", t["trace"] * 1e3, "ms", t["trace"] / t["greedy"],
         "≤ 300 ms"),
        (f"{name}: trace with every hook point (full=True)", t["trace_full"] * 1e3, "ms", t["trace_full"] / t["greedy"], ""),
    ]  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    r = 5 if args.quick else 1
    rows = forward_latency(100 // r) + training_throughput(20 // r) + generation_speed(10 // r)
    rows += default_model_speed(20 // r)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; config d_model={CONFIG.d_model}, "
          f"heads={CONFIG.n_heads}, layers={CONFIG.n_encoder_layers}+{CONFIG.n_decoder_layers}, d_ff={CONFIG.d_ff}, "
          f"vocab={CONFIG.src_vocab_size}\n")  # fmt: skip
    print("| measurement | value | unit | ratio | target |")
    print("|---|---:|---|---:|---|")
    for name, value, unit, ratio, target in rows:
        print(f"| {name} | {value:,.1f} | {unit} | {ratio:.2f}× | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
