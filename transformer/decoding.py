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
def beam_search(
    model: Transformer,
    src: torch.Tensor,
    beam: int = 4,
    max_len: int = 100,
    alpha: float = DEFAULT_ALPHA,
    max_repeat: int | None = None,
    no_repeat_ngram: int | None = None,
    forbidden_ids: list[int] | None = None,
) -> torch.Tensor:
    """src (1, S) -> best hypothesis (1 + n,) starting with config.start_id, ending with eos unless
    max_len was hit.

    Hypotheses are ranked by log P(Y|X) / length_penalty(|Y|, alpha); the search ends once `beam` have
    ended and none still running scores higher than the best ended one. `max_repeat` forbids a piece
    from appearing more than that many times in a row (a guard against degenerate loops).
    """
    if src.shape[0] != 1:
        raise ValueError(f"beam_search decodes one sentence at a time, got a batch of {src.shape[0]}")
    cfg = model.config
    max_len = min(max_len, cfg.max_len - 1)
    src_mask = model.src_mask(src)
    memory = model.encode(src, src_mask).expand(beam, -1, -1)
    if src_mask is not None:
        src_mask = src_mask.expand(beam, -1, -1, -1)
    ys = torch.full((beam, 1), cfg.start_id, dtype=torch.long, device=src.device)
    # only the first beam is alive at the start, so the first step's top-k are k distinct tokens
    scores = torch.full((beam,), float("-inf"), device=src.device)
    scores[0] = 0.0
    cache = model.new_cache()
    finished: list[tuple[float, torch.Tensor]] = []
    for t in range(max_len):
        logp = _step_logits(model, ys, memory, src_mask, cache, t).log_softmax(-1)  # (beam, V)
        logp = block_ngrams(block_repeats(logp, ys, max_repeat), ys, no_repeat_ngram)
        logp = block_ids(logp, forbidden_ids)
        V = logp.shape[-1]
        candidates = (scores[:, None] + logp).view(-1)
        top_scores, top_idx = candidates.topk(2 * beam)
        keep_beams, keep_tokens, keep_scores = [], [], []
        for score, idx in zip(top_scores.tolist(), top_idx.tolist(), strict=False):
            if score == float("-inf"):
                break
            b, token = divmod(idx, V)
            if token == cfg.eos_id:
                hyp = torch.cat([ys[b], ys.new_tensor([token])])
                finished.append((score / length_penalty(t + 1, alpha), hyp))
            else:
                keep_beams.append(b)
                keep_tokens.append(token)
                keep_scores.append(score)
            if len(keep_beams) == beam:
                break
        # Done when nothing runs, or once `beam` hypotheses have ended and the best one still running, scored
        # at its present length, is no better than the best of them. Stopping at the first `beam` endings
        # alone returned junk when a confident model's junk beams ended early: with 14 pieces, `</s>` is
        # among any beam's top 8, so four unlikely endings came before the likely one had finished.
        if not keep_beams or (
            len(finished) >= beam
            and keep_scores[0] / length_penalty(t + 1, alpha) <= max(f[0] for f in finished)
        ):
            break
        while len(keep_beams) < beam:  # pad with dead beams so shapes stay fixed
            keep_beams.append(keep_beams[0])
            keep_tokens.append(keep_tokens[0])
            keep_scores.append(float("-inf"))
        index = torch.tensor(keep_beams, device=src.device)
        ys = torch.cat([ys[index], torch.tensor(keep_tokens, device=src.device)[:, None]], dim=1)
        scores = torch.tensor(keep_scores, device=src.device)
        for layer_cache in cache:  # each kept hypothesis takes its parent's keys and values
            self_cache = layer_cache["self"]  # (index_select: a quarter of the time of k[index] here)
            self_cache["k"] = self_cache["k"].index_select(0, index)  # (beam, H, t + 1, d_k)
            self_cache["v"] = self_cache["v"].index_select(0, index)
    else:  # max_len reached: hypotheses still running compete with the finished ones, ranked the same way
        finished += [
            (score / length_penalty(ys.shape[1] - 1, alpha), y)
            for score, y in zip(scores.tolist(), ys)
            if score > float("-inf")
        ]
    return max(finished, key=lambda item: item[0])[1]
