"""Generating a target sentence: greedy search and beam search (paper §6.1: beam 4, length penalty).

Both run the encoder once. The decoder then runs one position at a time with a KV cache:
each decoder self-attention appends the new position's K/V to its cache, and each
cross-attention computes the encoder memory's K/V on the first step and reuses them.
"""

from __future__ import annotations

import torch

from .model import Transformer

DEFAULT_ALPHA = 0.6  # the paper's length penalty (§6.1), for a model whose metadata names none


def _step_logits(model: Transformer, ys, memory, src_mask, cache, t: int) -> torch.Tensor:
    """Next-token logits (B, V) for the last position of ys (B, t+1)."""
    if cache is not None:  # only the newest position; it may see every earlier one, so no tgt_mask
        h = model.decoder(ys[:, -1:], memory, src_mask, cache=cache, offset=t)
    else:  # recompute the whole prefix: the slow reference the cache must agree with
        h = model.decode(ys, memory, src_mask)
    return model.project(h[:, -1])


def block_repeats(logits: torch.Tensor, ys: torch.Tensor, max_repeat: int | None) -> torch.Tensor:
    """Forbid (-inf) the piece that already ends each row of ys (B, t) max_repeat times in a row."""
    if max_repeat is None or ys.shape[1] <= max_repeat:
        return logits
    tail = ys[:, -max_repeat:]
    runs = (tail == tail[:, -1:]).all(dim=1)  # (B,) the last max_repeat tokens are one piece
    if runs.any():
        logits = logits.clone()
        logits[runs, ys[runs, -1]] = float("-inf")
    return logits


def block_ngrams(logits: torch.Tensor, ys: torch.Tensor, n: int | None) -> torch.Tensor:
    """Forbid (-inf) each token that would repeat an n-gram of pieces already in its row of ys (B, t).

    A phrase-level guard ("dass er vergessen hat, dass er vergessen hat"), the `no_repeat_ngram_size`
    of fairseq and Hugging Face.
    """
    if n is None or ys.shape[1] < n:
        return logits
    grams = ys.unfold(1, n, 1)  # (B, t - n + 1, n) every n-gram so far
    tail = ys[:, ys.shape[1] - n + 1 :]  # (B, n - 1) what the next token would extend
    hits = (grams[:, :, :-1] == tail[:, None, :]).all(dim=-1).nonzero()  # (k, 2) rows and n-gram indices
    if len(hits) == 0:
        return logits
    logits = logits.clone()
    logits[hits[:, 0], grams[hits[:, 0], hits[:, 1], -1]] = float("-inf")
    return logits


def block_ids(logits: torch.Tensor, ids: list[int] | tuple[int, ...] | None) -> torch.Tensor:
    """Forbid (-inf) the given ids at every step, e.g. Marian's pad id (`bad_words_ids` in Hugging Face):
    a converted model whose pad row was never trained could otherwise pick it."""
    if not ids:
        return logits
    logits = logits.clone()
    logits[:, list(ids)] = float("-inf")
    return logits


@torch.no_grad()
def greedy_decode(
    model: Transformer,
    src: torch.Tensor,
    max_len: int,
    use_cache: bool = True,
    max_repeat: int | None = None,
    no_repeat_ngram: int | None = None,
    forbidden_ids: list[int] | None = None,
) -> torch.Tensor:
    """src (B, S) ids -> (B, 1 + n) ids starting with config.start_id (bos, or Marian's pad); rows
    that finished early are padded after eos.

    `max_repeat` forbids a piece from appearing more than that many times in a row;
    `no_repeat_ngram` forbids any n-gram of pieces from appearing twice; `forbidden_ids` are never chosen.
    """
    cfg = model.config
    max_len = min(max_len, cfg.max_len - 1)
    src_mask = model.src_mask(src)
    memory = model.encode(src, src_mask)
    B = src.shape[0]
    ys = torch.full((B, 1), cfg.start_id, dtype=torch.long, device=src.device)
    finished = torch.zeros(B, dtype=torch.bool, device=src.device)
    cache = model.new_cache() if use_cache else None
    for t in range(max_len):
        logits = block_repeats(_step_logits(model, ys, memory, src_mask, cache, t), ys, max_repeat)
        logits = block_ids(block_ngrams(logits, ys, no_repeat_ngram), forbidden_ids)
        next_id = logits.argmax(-1)
        next_id = next_id.masked_fill(finished, cfg.pad_id)
        ys = torch.cat([ys, next_id[:, None]], dim=1)
        finished |= next_id == cfg.eos_id
        if finished.all():
            break
    return ys


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ((5 + |Y|) / 6)^α (Wu et al. 2016), the normaliser the paper's beam search uses."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model: Transformer, src: torch.Tensor, beam: int = 4, **options) -> torch.Tensor:
    """src (1, S) -> best hypothesis (1 + n,) starting with config.start_id, ending with eos unless max_len
    was hit: `beam_search_batch` of one sentence (`options`: its max_len, alpha and guards)."""
    if src.shape[0] != 1:
        raise ValueError(f"beam_search decodes one sentence at a time, got a batch of {src.shape[0]}")
    return beam_search_batch(model, src, beam, **options)[0]


@torch.no_grad()
def beam_search_batch(
    model: Transformer,
    src: torch.Tensor,
    beam: int = 4,
    max_len: int = 100,
    alpha: float = DEFAULT_ALPHA,
    max_repeat: int | None = None,
    no_repeat_ngram: int | None = None,
    forbidden_ids: list[int] | None = None,
) -> list[torch.Tensor]:
    """src (B, S) -> each sentence's best hypothesis (1 + n_b,), B beam searches run as one batch.

    Hypotheses are ranked by log P(Y|X) / length_penalty(|Y|, alpha); a sentence's search ends once `beam`
    have ended and none still running scores higher than the best ended one. `max_repeat` forbids a piece
    from appearing more than that many times in a row (a guard against degenerate loops). The encoder reads
    B rows; every decoder step B * beam, sentence b's hypotheses in rows b * beam … b * beam + beam - 1
    (so a hook with one change per sentence, `analysis.zero_heads`, finds each sentence's rows as a block).
    """
    cfg = model.config
    B, max_len = src.shape[0], min(max_len, cfg.max_len - 1)
    src_mask = model.src_mask(src)
    memory = model.encode(src, src_mask).repeat_interleave(beam, 0)  # (B * beam, S, d_model)
    if src_mask is not None:
        src_mask = src_mask.repeat_interleave(beam, 0)
    ys = torch.full((B * beam, 1), cfg.start_id, dtype=torch.long, device=src.device)
    # only each sentence's first beam is alive at the start, so the first step's top-k are k distinct tokens
    scores = torch.full((B, beam), float("-inf"), device=src.device)
    scores[:, 0] = 0.0
    scores = scores.view(-1)
    cache = model.new_cache()
    finished: list[list[tuple[float, torch.Tensor]]] = [[] for _ in range(B)]
    done = [False] * B
    for t in range(max_len):
        logp = _step_logits(model, ys, memory, src_mask, cache, t).log_softmax(-1)  # (B * beam, V)
        logp = block_ngrams(block_repeats(logp, ys, max_repeat), ys, no_repeat_ngram)
        logp = block_ids(logp, forbidden_ids)
        V = logp.shape[-1]
        top_scores, top_idx = (scores[:, None] + logp).view(B, beam * V).topk(2 * beam, dim=1)
        kept: list[tuple[int, int, float]] = []  # (row, token, score), beam per sentence
        for b, (row_scores, row_idx) in enumerate(zip(top_scores.tolist(), top_idx.tolist(), strict=True)):
            keep: list[tuple[int, int, float]] = []
            for score, idx in zip(row_scores, row_idx, strict=True):
                if done[b] or score == float("-inf"):
                    break
                row, token = b * beam + idx // V, idx % V
                if token == cfg.eos_id:
                    hyp = torch.cat([ys[row], ys.new_tensor([token])])
                    finished[b].append((score / length_penalty(t + 1, alpha), hyp))
                else:
                    keep.append((row, token, score))
                if len(keep) == beam:
                    break
            # Done when nothing runs, or once `beam` hypotheses have ended and the best one still running,
            # scored at its present length, is no better than the best of them. Stopping at the first `beam`
            # endings alone returned junk when a confident model's junk beams ended early: with 14 pieces,
            # `</s>` is among any beam's top 8, so four unlikely endings came before the likely one finished.
            top = max((f[0] for f in finished[b]), default=float("inf"))  # the best ended one
            if keep and len(finished[b]) >= beam and keep[0][2] / length_penalty(t + 1, alpha) <= top:
                keep = []
            done[b] = done[b] or not keep
            if done[b]:  # its rows run on, dead, so the batch keeps its shape
                keep = [(b * beam, cfg.eos_id, float("-inf"))]
            kept += keep + [(keep[0][0], keep[0][1], float("-inf"))] * (beam - len(keep))
        if all(done):
            break
        index = torch.tensor([row for row, _, _ in kept], device=src.device)
        ys = torch.cat([ys[index], torch.tensor([[token] for _, token, _ in kept], device=src.device)], dim=1)
        scores = torch.tensor([score for _, _, score in kept], device=src.device)
        for layer_cache in cache:  # each kept hypothesis takes its parent's keys and values
            self_cache = layer_cache["self"]  # (index_select: a quarter of the time of k[index] here)
            self_cache["k"] = self_cache["k"].index_select(0, index)  # (B * beam, H, t + 1, d_k)
            self_cache["v"] = self_cache["v"].index_select(0, index)
    for b in (b for b in range(B) if not done[b]):  # max_len reached: those still running compete too
        finished[b] += [
            (score / length_penalty(ys.shape[1] - 1, alpha), y)
            for score, y in zip(scores[b * beam : (b + 1) * beam].tolist(), ys[b * beam : (b + 1) * beam])
            if score > float("-inf")
        ]
    return [max(f, key=lambda item: item[0])[1] for f in finished]
