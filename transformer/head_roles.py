"""What each head does: every head of every attention kind scored on a few published measures.

Two papers name the roles measured here. Clark et al. 2019 ("What Does BERT Look At? An Analysis of
BERT's Attention", §3) measure how much weight a head puts on the previous / next token, on separators
and punctuation (weight "parked" there acts as a no-op) and how broad a head is (the entropy of its
rows). Voita et al. 2019 ("Analyzing Multi-Head Self-Attention: Specialized Heads Do the Heavy Lifting,
the Rest Can Be Pruned") call a head *positional* when its largest weight falls on one fixed relative
position in at least 90 % of cases, a *rare-word* head when its largest weight falls on the sentence's
least frequent token, and measure a head's *confidence* as its largest weight (the end-of-sentence
piece left out), averaged over tokens. For cross-attention, `aligned` asks the question of
`tools.alignment`: does the target word's most-attended source word match a hand alignment?

Every measure is a mean over *rows* (query positions): a weight in [0, 1] or a share of rows. A row
with a single key it may attend to (the decoder's row 0, which must put all its weight on the start
piece) shows no choice and is left out of every measure; `HeadRoles.rows` counts the rows that were
kept. Over many sentences the rows are pooled (`pool`): a mean over all rows of all sentences, not a
mean of per-sentence means. Decoder row t reads tgt_tokens[t] and predicts tgt_tokens[t + 1]
(trace.py); the offsets below are between the piece read and the key.

    head_roles(attention, kind, q_tokens, k_tokens, rarity, aligned_pairs)  one sentence, plain arrays
    trace_roles(model, trace, pairs)   every kind of a Trace -> {kind: HeadRoles}
    set_roles(model, items)            a set of eval items, each traced on its reference, rows pooled
    text_roles(model, texts)           sentences traced on the model's own translations, rows pooled
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .arrays import as_array
from .kinds import KINDS
from .words import SPECIALS, WORD_START, pool_words

# fmt: off
MEASURES: dict[str, str] = {
    "previous": "mean weight on the key one position back, offset -1 (Clark et al. 2019)",
    "next": "mean weight on the key one position ahead, offset +1 (Clark et al. 2019)",
    "same": "mean weight on the row's own position, offset 0 (Clark et al. 2019)",
    "previous_argmax": "share of rows whose largest weight is on offset -1; positional at >= 0.9 (Voita et al. 2019)",
    "next_argmax": "share of rows whose largest weight is on offset +1; positional at >= 0.9 (Voita et al. 2019)",
    "same_argmax": "share of rows whose largest weight is on offset 0; positional at >= 0.9 (Voita et al. 2019)",
    "eos": "mean weight on </s> keys (Clark et al. 2019: attention to [SEP])",
    "bos": "mean weight on the start piece as a key (<s>; a converted Marian model's <pad>)",
    "punctuation": "mean weight on keys that are only punctuation (Clark et al. 2019)",
    "parked": "eos + bos + punctuation: weight parked on a no-op key (Clark et al. 2019)",
    "confidence": "mean over rows of the largest weight, </s> keys left out (Voita et al. 2019)",
    "entropy": "mean over rows of H(row) / log(keys allowed): 1 = uniform, 0 = one key (Clark et al. 2019)",
    "rare": "share of rows whose largest weight is on the rarest piece they may see (Voita et al. 2019)",
    "aligned": "cross only: share of hand-aligned target words whose most-attended source word is the "
               "marked one (tools.alignment's question)",
    # previous / same / next and their argmax shares are NaN for cross-attention: a target position
    # and a source position are not one sentence's positions, so no offset between them is defined
}
# fmt: on
OFFSETS = {"previous": -1, "same": 0, "next": 1}
# what a cell can be named by
ROLES = ("previous", "same", "next", "parked", "rare", "aligned", "focused", "broad")
POSITIONAL = 0.9  # Voita et al. 2019: the largest weight on one relative position in >= 90 % of rows
CANDIDATES = ("previous", "same", "next", "parked", "rare", "aligned")  # [0, 1] scores a role is picked from
BROAD = 1 / 3  # below this for every candidate, no named thing holds the head's weight: "focused" or "broad"
FOCUSED = 0.5  # ... "focused" when its largest weight still takes this much of a row on average (confidence)


@dataclass(frozen=True)
class HeadRoles:
    """Every measure of MEASURES for every head of one attention kind.

    scores[measure]: (L, H) float, NaN where the measure does not apply (offsets in cross-attention,
    `eos` where no key is </s>, `aligned` without an alignment). counts[measure]: how many rows (for
    `aligned`: hand-aligned words) its mean is over, the same for every head; what `pool` weighs by.
    rows: rows kept (those with more than one key they may attend to); sentences: how many sentences are pooled.
    """

    kind: str
    scores: dict[str, np.ndarray]
    rows: int
    sentences: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(L, H)."""
        return next(iter(self.scores.values())).shape

    def positional(self) -> tuple[np.ndarray, np.ndarray]:
        """Voita's positional heads: (L, H) offset name ("previous" | "same" | "next", "" when none) and
        the share of rows whose largest weight sits there (the highest of the three argmax shares)."""
        names = list(OFFSETS)
        shares = np.stack([self.scores[f"{n}_argmax"] for n in names])  # (3, L, H)
        filled = np.where(np.isnan(shares), -1.0, shares)
        best = filled.argmax(0)
        share = np.take_along_axis(filled, best[None], 0)[0]
        role = np.where(share >= POSITIONAL, np.array(names)[best], "")
        return role, np.where(share >= 0, share, np.nan)

    def strongest(self) -> tuple[np.ndarray, np.ndarray]:
        """Each head's strongest role: (L, H) role names (from ROLES, "" when nothing applies) and scores.

        The rule, in order:
        1. Positional (Voita et al. 2019): if in at least 90 % of rows the largest weight is on the
           previous piece, the piece itself or the next piece, the role is that offset and the score is
           that share of rows.
        2. Otherwise the largest of these scores, each in [0, 1]: the mean weight on the previous, same
           or next piece; `parked` (mean weight on </s>, the start piece and punctuation); `rare` (share
           of rows whose largest weight is on the rarest piece); `aligned` (cross: share of hand-aligned
           words found). Ties go to the first in that order.
        3. If even that score is below 1/3 (BROAD), none of those things holds the head's weight. Then
           "focused", scored by its confidence, when its largest weight still takes at least half of a
           row on average (FOCUSED): it reads one piece, one the roles do not name (the mirrored position
           of the `reverse` toy's cross-attention); else "broad", scored by its entropy share (1 =
           uniform rows). Neither is compared with the scores of 2: a row with half its weight on one
           of ten keys still has an entropy share of 0.78.
        """
        role, score = self.positional()
        values = np.stack([self.scores[m] for m in CANDIDATES])  # (n, L, H)
        filled = np.where(np.isnan(values), -1.0, values)
        best = filled.argmax(0)
        top = np.take_along_axis(filled, best[None], 0)[0]
        focused = self.scores["confidence"] >= FOCUSED
        rest = np.where(focused, "focused", "broad")
        rest = np.where(np.isnan(self.scores["entropy"]), "", rest)  # "": no row to judge by
        names = np.where(top >= BROAD, np.array(CANDIDATES)[best], rest)
        scores = np.where(
            top >= BROAD, top, np.where(focused, self.scores["confidence"], self.scores["entropy"])
        )
        positional = role != ""
        return np.where(positional, role, names).astype(str), np.where(positional, score, scores)


def is_punctuation(piece: str) -> bool:
    """A piece made only of punctuation (Unicode category P*), the word-start mark "▁" aside."""
    text = piece.replace(WORD_START, "")
    return bool(text) and all(unicodedata.category(c).startswith("P") for c in text)


def head_roles(
    attention,
    kind: str,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    rarity: Sequence[float] | None = None,
    aligned_pairs: Sequence[dict] | None = None,
) -> HeadRoles:
    """Score every head of one kind on one sentence.

    attention: (L, H, T_q, T_k) numpy array or tensor, each row a distribution over the keys; for
    kind "decoder" zero above the diagonal (row q may see keys 0..q). q_tokens / k_tokens: the pieces
    of the query and key side (for "decoder" and "cross" the queries are the decoder input, starting
    with the start piece; for "encoder" and "decoder" both sides are the same sentence).
    rarity: (T_k,) one score per key piece, lower = rarer (`Tokenizer.piece_scores`), NaN for a piece
    that is never "the rarest"; None leaves `rare` NaN. aligned_pairs (cross only): [{"de": target word,
    "en": source word}, ...], words as `word_spans` counts them; None leaves `aligned` NaN.
    """
    a = as_array(attention, f"{kind} attention")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
    if a.ndim != 4 or a.shape[2:] != (len(q_tokens), len(k_tokens)):
        raise ValueError(
            f"{kind} attention must be (L, H, T_q, T_k) = (L, H, {len(q_tokens)}, {len(k_tokens)}) "
            f"for {len(q_tokens)} query and {len(k_tokens)} key pieces, got {a.shape}"
        )
    n_q, n_k = a.shape[2:]
    own = kind != "cross"  # self-attention: queries and keys are the same positions
    if own and n_q != n_k:
        raise ValueError(f"{kind} self-attention must be square, got T_q={n_q}, T_k={n_k}")
    if rarity is not None and len(rarity) != n_k:
        raise ValueError(f"rarity must have one score per key piece ({n_k}), got {len(rarity)}")
    q, k = np.arange(n_q)[:, None], np.arange(n_k)[None, :]
    allowed = (k <= q) if kind == "decoder" else np.ones((n_q, n_k), bool)  # (T_q, T_k)
    kept = allowed.sum(-1) > 1  # (T_q,) rows with a choice to make
    best = np.where(allowed, a, -1.0).argmax(-1)  # (L, H, T_q) ties go to the earliest key
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}

    def mean(name: str, values: np.ndarray, rows: np.ndarray) -> None:
        """values (L, H, T_q) averaged over the rows marked in rows (T_q,)."""
        sums[name], counts[name] = values[..., rows].sum(-1), int(rows.sum())

    for name, offset in OFFSETS.items():
        at = q[:, 0] + offset  # (T_q,) the key at this offset
        rows = kept & own & (at >= 0) & (at < n_k)
        rows[rows] &= allowed[rows.nonzero()[0], at[rows]]
        mean(name, a[:, :, np.arange(n_q), np.clip(at, 0, n_k - 1)], rows)  # (L, H, T_q)
        mean(f"{name}_argmax", (best == at).astype(float), rows)

    keys = {
        "eos": np.array([t == "</s>" for t in k_tokens]),
        "bos": np.array([t == "<s>" or (kind == "decoder" and i == 0) for i, t in enumerate(k_tokens)]),
        "punctuation": np.array([is_punctuation(t) for t in k_tokens]),
    }
    keys["parked"] = keys["eos"] | keys["bos"] | keys["punctuation"]
    for name, on in keys.items():
        # no </s> or start piece among the keys: no such measure; no punctuation in the sentence: 0
        applies = on.any() or name in ("punctuation", "parked")
        mean(name, a[..., on].sum(-1), kept if applies else np.zeros_like(kept))
    mean("confidence", np.where(keys["eos"], -1.0, np.where(allowed, a, -1.0)).max(-1).clip(0), kept)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(a > 0, a * np.log(a), 0.0)
        mean("entropy", np.nan_to_num(-plogp.sum(-1) / np.log(allowed.sum(-1))), kept)
    _rare(a, best, allowed, kept, k_tokens, rarity, mean)
    _aligned(a, kind, q_tokens, k_tokens, aligned_pairs, sums, counts)
    return _roles(kind, sums, counts, int(kept.sum()), 1)


def _rare(a, best, allowed, kept, k_tokens, rarity, mean) -> None:
    """`rare`: the row's largest weight is on the rarest piece among the keys it may see (Voita et al.
    2019); specials and punctuation are never the rarest, ties in rarity all count."""
    if rarity is None:
        mean("rare", np.zeros(a.shape[:3]), np.zeros(a.shape[2], bool))
        return
    score = np.asarray(rarity, float)
    eligible = np.isfinite(score) & np.array([t not in SPECIALS and not is_punctuation(t) for t in k_tokens])
    seen = np.where(allowed & eligible, score, np.inf)  # (T_q, T_k)
    low = seen.min(-1, keepdims=True)
    rarest = np.isfinite(seen) & (seen == low)  # (T_q, T_k)
    rows = kept & rarest.any(-1)
    hit = np.take_along_axis(np.broadcast_to(rarest, (*a.shape[:2], *rarest.shape)), best[..., None], -1)
    mean("rare", hit[..., 0].astype(float), rows)


def _aligned(a, kind, q_tokens, k_tokens, pairs, sums, counts) -> None:
    """`aligned`: per hand-aligned target word, is its most-attended source word the marked one?

    Words as `transformer.words.pool_words` pools them (tools.alignment's convention): a target word's row
    is the mean of rows j - 1 over its pieces j (the rows that generate them), a source word's column the
    sum of its pieces' columns."""
    if kind != "cross" or pairs is None:
        sums["aligned"], counts["aligned"] = np.zeros(a.shape[:2]), 0
        return
    words = pool_words(a, list(q_tokens), list(k_tokens))  # (L, H, n_tgt, n_src)
    n_tgt, n_src = words.shape[-2:]
    bad = [p for p in pairs if not (0 <= p["de"] < n_tgt and 0 <= p["en"] < n_src)]
    if bad:
        raise ValueError(f"pair {bad[0]} is outside the {n_tgt} target and {n_src} source words")
    found = words.argmax(-1)  # (L, H, n_tgt)
    sums["aligned"] = sum((found[..., p["de"]] == p["en"]).astype(float) for p in pairs) + np.zeros(
        a.shape[:2]
    )
    counts["aligned"] = len(pairs)


def _roles(kind: str, sums: dict, counts: dict, rows: int, sentences: int) -> HeadRoles:
    """Sums and row counts -> means (NaN where no row counts)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = {m: np.where(counts[m] > 0, sums[m] / max(counts[m], 1), np.nan) for m in MEASURES}
    return HeadRoles(kind, scores, rows, sentences, {m: counts[m] for m in MEASURES})


def pool(results: Sequence[HeadRoles]) -> HeadRoles:
    """Several sentences' HeadRoles of one kind -> one: each measure a mean over all their rows (each
    sentence weighs by its rows), not a mean of the sentences' means."""
    if not results:
        raise ValueError("nothing to pool")
    kinds, shapes = {r.kind for r in results}, {r.shape for r in results}
    if len(kinds) > 1 or len(shapes) > 1:
        raise ValueError(f"can only pool one kind of one model, got kinds {kinds} and shapes {shapes}")
    sums = {m: sum(np.nan_to_num(r.scores[m]) * r.counts[m] for r in results) for m in MEASURES}
    counts = {m: sum(r.counts[m] for r in results) for m in MEASURES}
    return _roles(
        results[0].kind, sums, counts, sum(r.rows for r in results), sum(r.sentences for r in results)
    )


def trace_roles(model, trace, pairs: Sequence[dict] | None = None) -> dict[str, HeadRoles]:
    """Every kind of a `Trace` -> {kind: HeadRoles}. model: the `Pretrained` that made it (its tokenizer's
    piece scores say which piece is rarest); pairs: an eval item's hand alignment, for cross `aligned`."""
    tok = model.tokenizer
    src, tgt = trace.src_tokens or tok.pieces(trace.src_ids), trace.tgt_tokens or tok.pieces(trace.tgt_ids)
    side = {
        "src": (src, tok.piece_scores(trace.src_ids)),
        "tgt": (tgt, tok.piece_scores(trace.tgt_ids, target=True)),
    }
    out = {}
    for name, attention in trace.attention.items():
        k = KINDS[name]
        (q_tokens, _), (k_tokens, rarity) = side[k.query_side], side[k.key_side]
        out[name] = head_roles(
            attention, name, q_tokens, k_tokens, rarity, pairs if name == "cross" else None
        )
    return out


def set_roles(model, items: Sequence[dict]) -> dict[str, HeadRoles]:
    """A set of eval items ({"en", "de", "pairs"}, as tools.alignment.load_set returns), each traced
    teacher-forced on its reference -> {kind: HeadRoles} pooled over all rows of all sentences."""
    if not items:
        raise ValueError("no items to score")
    return _pool_kinds(
        [trace_roles(model, model.trace(item["en"], target=item["de"]), item.get("pairs")) for item in items]
    )


def text_roles(model, texts: Sequence[str]) -> dict[str, HeadRoles]:
    """Sentences without a reference (a toy model's example inputs), each traced on the model's own greedy
    translation -> {kind: HeadRoles} pooled over all rows of all sentences (no `aligned`)."""
    if not texts:
        raise ValueError("no sentences to score")
    return _pool_kinds([trace_roles(model, model.trace(text)) for text in texts])


def _pool_kinds(each: Sequence[dict[str, HeadRoles]]) -> dict[str, HeadRoles]:
    """Per sentence {kind: HeadRoles} -> one {kind: HeadRoles}, each kind pooled over every sentence."""
    return {kind: pool([roles[kind] for roles in each]) for kind in each[0]}
