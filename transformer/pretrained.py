"""`load_pretrained`: a model with its tokenizer, ready to translate and to be traced.

m = load_pretrained()                      # the shipped default (assets/DEFAULT names it)
m.translate("The house is old.")          # -> str
t = m.trace("The house is old.")          # greedy-decode, then capture one teacher-forced pass
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from . import decoding
from .analysis import Head, decoder_input, zero_heads
from .capture import HookFn, hooks
from .checkpoint import CONFIG, CheckpointError, load_model
from .model import Transformer
from .tokenizer import MarianTokenizer, Tokenizer, clean_text
from .trace import Trace, capture_trace

ASSETS = Path(__file__).resolve().parent.parent / "assets"
LATEST = "LATEST"  # in a training run's output directory: the name of the newest checkpoint


def default_model_dir() -> Path:
    """The model the app and `load_pretrained()` use when none is named: assets/<name in assets/DEFAULT>."""
    name = (ASSETS / "DEFAULT").read_text().strip()
    return ASSETS / name


def available_models() -> dict[str, Path]:
    """Every model directory shipped in assets/, by name."""
    if not ASSETS.is_dir():
        return {}
    return {p.name: p for p in sorted(ASSETS.iterdir()) if (p / CONFIG).is_file()}


def resolve_model_dir(path: str | Path | None) -> Path:
    """A model directory, a training run directory (its LATEST checkpoint), or a name in assets/."""
    if path is None:
        return default_model_dir()
    path = Path(path)
    if not path.exists() and (ASSETS / path).is_dir() and len(path.parts) == 1:
        path = ASSETS / path
    if (path / LATEST).is_file():
        name = (path / LATEST).read_text().strip()
        if not name or "/" in name or name.startswith("."):
            raise CheckpointError(f"{path / LATEST} does not name a checkpoint: {name!r}")
        path = path / "checkpoints" / name
    return path


@dataclass
class Pretrained:
    model: Transformer
    tokenizer: Tokenizer | MarianTokenizer
    metadata: dict = field(default_factory=dict)
    name: str = ""

    @property
    def config(self):
        return self.model.config

    def encode_source(self, text: str) -> tuple[list[int], bool]:
        """Text -> (source ids ending with eos, whether it had to be truncated to max_len)."""
        ids = self.tokenizer.encode(text)
        room = self.config.max_len - 1
        return ids[:room] + [self.config.eos_id], len(ids) > room

    def _max_len(self, src_len: int, max_len: int | None) -> int:
        limit = self.config.max_len - 1
        # tied to the source: a translation is rarely more than twice as many pieces as its source
        return min(limit, max_len if max_len is not None else 2 * src_len + 10)

    @property
    def generation(self) -> dict:
        """Decoding settings the model was shipped with (metadata "generation"): alpha, max_repeat,
        no_repeat_ngram, forbidden_ids (ids never generated, e.g. a converted Marian model's pad)."""
        return {
            "alpha": decoding.DEFAULT_ALPHA,
            "max_repeat": None,
            "no_repeat_ngram": None,
            "forbidden_ids": [],
            **self.metadata.get("generation", {}),
        }

    @torch.no_grad()
    def translate_ids(self, src_ids: list[int], beam: int = 4, max_len: int | None = None) -> list[int]:
        """Source ids -> generated ids (config.start_id ... eos)."""
        return self.translate_copies(src_ids, 1, beam, max_len)[0]

    @torch.no_grad()
    def translate_copies(
        self, src_ids: list[int], n: int, beam: int = 4, max_len: int | None = None
    ) -> list[list[int]]:
        """The same source decoded n times as one batch: what a hook that changes each copy its own way
        (`analysis.zero_heads` with n sets) needs. Never generates a special piece but `</s>` (a `<s>` or
        `<pad>` in mid-sentence is no word: a model with every head off wrote `<s> <s>`)."""
        cfg = self.config
        src = torch.tensor([src_ids] * n, dtype=torch.long, device=self.device)
        limit = self._max_len(len(src_ids), max_len)
        gen = self.generation
        guards = {k: gen[k] for k in ("max_repeat", "no_repeat_ngram")}
        specials = {i for i in (cfg.start_id, cfg.bos_id, cfg.pad_id) if i is not None and i != cfg.eos_id}
        guards["forbidden_ids"] = sorted({*gen["forbidden_ids"], *specials})
        if beam <= 1:
            return decoding.greedy_decode(self.model, src, limit, **guards).tolist()
        out = decoding.beam_search_batch(self.model, src, beam, limit, gen["alpha"], **guards)
        return [ids.tolist() for ids in out]

    def decoder_input(
        self,
        src_ids: list[int],
        beam: int = 1,
        max_len: int | None = None,
        interventions: list[tuple[str, HookFn]] | None = None,
    ) -> list[int]:
        """Source ids -> the decoder input of the translation the model makes (start id and pieces, no
        `</s>`: `analysis.decoder_input`), decoded with `interventions` active."""
        with hooks(self.model, interventions or []):
            out = self.translate_ids(src_ids, beam=beam, max_len=max_len)
        return decoder_input(out, self.config.pad_id, self.config.eos_id)

    def decoder_inputs(
        self, src_ids: list[int], variants: list[tuple[Head, ...]], beam: int = 1, max_len: int | None = None
    ) -> list[list[int]]:
        """`decoder_input` once per set of heads switched off (`variants`), all in one batched decode."""
        with hooks(self.model, zero_heads(variants)):
            out = self.translate_copies(src_ids, len(variants), beam, max_len)
        return [decoder_input(ids, self.config.pad_id, self.config.eos_id) for ids in out]

    def translate(self, text: str, beam: int = 4, max_len: int | None = None) -> str:
        src_ids, _ = self.encode_source(text)
        return self.tokenizer.decode(self.translate_ids(src_ids, beam, max_len))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def trace(
        self,
        text: str,
        target: str | None = None,
        full: bool = False,
        beam: int = 1,
        max_len: int | None = None,
        interventions: list[tuple[str, HookFn]] | None = None,
    ) -> Trace:
        """Decode `text` (or take `target`), then capture one teacher-forced pass over it.

        full: record every hook point (Q, K, V, scores, each sub-layer's input and output, the
        feed-forward activations) besides what a trace always holds (see trace.py).

        interventions: hooks active during both decoding and capture (e.g. analysis.zero_heads),
        so the translation shown is the one the changed model produces.
        """
        src_ids, truncated = self.encode_source(text)
        if target is None:
            tgt_ids = self.decoder_input(src_ids, beam, max_len, interventions)
        else:
            tgt_ids = [self.config.start_id] + self.tokenizer.encode_target(target)[: self.config.max_len - 1]
        captured = capture_trace(self.model, src_ids, tgt_ids, full=full, interventions=interventions)
        pieces = self.tokenizer.pieces
        return replace(  # texts as encoded: a lone surrogate would make to_json() unwritable as UTF-8
            captured,
            src_text=clean_text(text),
            tgt_text=self.tokenizer.decode(tgt_ids) if target is None else clean_text(target),
            src_tokens=pieces(src_ids),
            tgt_tokens=pieces(tgt_ids),
            output_tokens=pieces(captured.probs.argmax(-1).tolist()),
            end_token=pieces([self.config.eos_id])[0],
            truncated=truncated,
            generated=target is None,
            meta={"model": self.name},
        )


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> Pretrained:
    """Load a model directory (or a name in assets/, or a training run's latest checkpoint), eval mode."""
    directory = resolve_model_dir(path)
    model, tokenizer, metadata = load_model(directory, map_location=device)
    return Pretrained(model=model, tokenizer=tokenizer, metadata=metadata, name=directory.name)
