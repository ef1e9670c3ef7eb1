"""Build an English–German parallel corpus from Debian's FreeDict dictionaries.

Data source: the FreeDict ``eng-deu`` and ``deu-eng`` dictionaries (edition 1.9-fd1, Debian packages
``dict-freedict-eng-deu`` / ``dict-freedict-deu-eng``), generated from the Ding dictionary of TU Chemnitz
(https://dict.tu-chemnitz.de/, (C) Frank Richter 1995-2020 and others) by FreeDict (https://freedict.org/).
Licence: GPLv3 *and* AGPLv3 (see the ``00-database-info`` entry of each ``.dict.dz``). The extracted corpus
is a derived work under those licences: write it outside the repository and never commit it.

Format (dictd; ``.index`` lines are ``headword<TAB>base64 offset<TAB>base64 length`` into the gunzipped
``.dict.dz``; every entry is one contiguous span)::

    eel stock /ˈiːl stˈɒk/                      <- headword, IPA, optional <pos>, optional "(abbr /ipa/)"
     [zool.] Aalbestand <masc>, Aalvorrat <masc>  <- translations: ", "-separated, [domain] / <pos> notes
             Note: ...                            <- ignored (as are "Synonym(s):" and " see:" lines)
          "the eel stocks"  - die Aalbestände, die Aalvorräte   <- example: one quoted phrase - alternatives

Decisions (measured on the 1.9-fd1 data; numbers in ``stats.json``):

* Alternatives. An example's quoted side is a single phrase; the other side lists Ding's ``;``-alternatives
  joined by ", ", which is ambiguous because sentences contain commas too. The list is segmented greedily
  into the longest runs of ", "-parts that occur *quoted* in the opposite dictionary; unknown runs fall back
  to splitting at ", " (for sentences only after . ! ?, and never before "dass", "which", ...). The quoted
  phrase is paired with the alternative at its own index when the opposite dictionary lists the same group
  with equally many alternatives (colour film/color film - Farbfilm/Buntfilm), otherwise with the first.
  Headwords are paired with their first translation.
* Annotations ``[...]``, ``<...>``, ``{...}`` and ``(...)`` (optional words, glosses, Latin names, sources)
  are removed from both sides; word-level slash alternatives ``I/he/she wrote`` keep the first word
  (except acronyms ``I/O``, units ``km/h`` and unbalanced ones like ``document/in`` that usually span
  several words). Every pair is normalised to (english, german), HTML entities unescaped, NFC, whitespace
  collapsed, de-duplicated across both dictionaries, and dropped when empty, > 60 words or when the
  character lengths differ more than 3:1 (mostly alternatives cut at a clause comma).
* Headwords that are whole sentences on both sides (~10k, as many as the example sentences) are examples.
  The other ~600k headword pairs (84 % of them 1-2 words) go to train.tsv only; ``--headwords short``
  (default) adds a seeded one-to-one sample of 30k pairs of <= 3 words, which cuts the English word OOV rate
  of test.tsv against train.tsv from 3.6 % to 2.9 % while examples stay ~70 % of train.tsv.
* Held-out splits hold only examples, one German reference per English, and are cut along connected
  components of the English/German strings, so neither side of a held-out pair occurs in another split.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import html
import json
import random
import re
import sys
import time
import unicodedata
from pathlib import Path

DICTS = ("eng-deu", "deu-eng")
HEADWORD_MODES = ("none", "short", "all")
EXAMPLE_RE = re.compile(r'\n {6}"(.*)" {2}- (.*)')  # the literal prefix makes findall() fast
EXAMPLE_BYTES_RE = re.compile(EXAMPLE_RE.pattern.encode())
IPA_RE = re.compile(r" /(?! )")
ENTITY_RE = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
BRACKETS_RE = re.compile(r"\s*(?:\[[^\[\]]*\]|<[^<>]*>|\{[^{}]*\}|\([^()]*\))")
SPACE_PUNCT_RE = re.compile(r" ([,.;:!?])")
MESSY_SPACE_RE = re.compile(r"\s\s|[^\S ]| [,.;:!?]|^ | $")
BRACKET_CHARS_RE = re.compile(r"[(\[{<]")
SEPARATOR_RE = re.compile(r"[,;] ")
SLASH_RE = re.compile(r"(?<![\w/.'’])[^\W\d_]+(?:(?: / |/)[^\W\d_]+)+(?![\w/'’])")
SENTENCE_END_RE = re.compile(r"[.!?…][\"'“”‘’»«)]*$")
CLAUSE_WORDS = frozenset(  # a ", "-part starting with one of these continues the previous alternative
    "dass damit deren dessen denen ob obwohl sodass weil wenn wobei wodurch womit wie wo welche welcher "
    "welches um although because unless whereby which who whom whose".split()
)
QUOTES = "\"'„“”‚‘’«»"
MAX_WORDS = 60
MAX_RATIO = 3.0
SHORT_WORDS = 3
MAX_HEADWORDS = 30000


def b64_numbers(texts) -> list[int]:
    """Decode dictd's base64 numbers (most significant digit first, < 64**8): "A" = 0 pads each to 6 bytes."""
    blob = base64.b64decode("".join(t.rjust(8, "A") for t in texts))
    return [int.from_bytes(blob[i : i + 6], "big") for i in range(0, len(blob), 6)]


def read_dict(dict_dir: Path, name: str, limit: int | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """(example (quoted, alternatives) pairs, entry heads "headword line\ntranslation line") of one dictionary.

    Several index lines may point at one entry; only the first ``limit`` entries (file order) are read.
    """
    stem = Path(dict_dir) / f"freedict-{name}"
    with gzip.open(f"{stem}.dict.dz") as f:
        data = f.read()
    with open(f"{stem}.index", encoding="utf-8") as f:  # entries are contiguous: their starts suffice
        offsets = {line.split("\t", 2)[1] for line in f if not line.startswith(("00database", "00-database"))}
    starts = sorted(b64_numbers(offsets))
    ends = starts[1:] + [len(data)]
    if limit is not None:
        starts, ends = starts[:limit], ends[:limit]
    find = data.find  # only the first two lines of each entry are needed
    heads = [
        data[a : min(find(b"\n", find(b"\n", a) + 1), b)].decode("utf-8")
        for a, b in zip(starts, ends, strict=True)
    ]
    body = memoryview(data)[starts[0] : ends[-1]] if starts else b""  # examples never start an entry
    examples = [(q.decode("utf-8"), a.decode("utf-8")) for q, a in EXAMPLE_BYTES_RE.findall(body)]
    return examples, heads


def parse_example(line: str) -> tuple[str, str] | None:
    """``      "quoted"  - alt1, alt2`` -> (quoted, "alt1, alt2")."""
    m = EXAMPLE_RE.match("\n" + line)
    return (m.group(1), m.group(2)) if m else None


def parse_headword(entry: str) -> tuple[str, str] | None:
    """(headword, translation line without annotations) of a dictd entry; None if it has no translations."""
    lines = entry.split("\n", 2)
    if len(lines) < 2 or not lines[1].strip() or lines[1].startswith(("   ", " see:")) or ",  /" in lines[1]:
        return None  # no translation, or a garbled abbreviation: "committeePAC,  /pˈɑːk/"
    # "centre / center /ˈsɛntə/ (abbr /ipa/) <pos>": the IPA is the first " /" that no space follows
    ipa = IPA_RE.search(lines[0])
    return (lines[0][: ipa.start()] if ipa else lines[0]), BRACKETS_RE.sub("", lines[1]).strip()


def split_top(text: str) -> list[str]:
    """Split at ", " / "; " outside brackets: ``a (b, c), d`` -> [``a (b, c)``, ``d``]."""
    if not BRACKET_CHARS_RE.search(text):
        return [p.strip() for p in SEPARATOR_RE.split(text) if p.strip()]
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += (c in "([{<") - (c in ")]}>")
        if depth <= 0 and c in ",;" and text[i + 1 : i + 2] == " ":
            parts.append(text[start:i])
            start = i + 2
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def split_alternatives(
    text: str, known: set[str] | frozenset = frozenset(), sentence: bool = False, first: bool = False
) -> list[str]:
    """Segment a ", "-joined list of alternatives, preferring runs of parts that are ``known`` phrases
    (only the first alternative if ``first``)."""
    if text in known or (", " not in text and "; " not in text):
        return [text]
    parts, out, i = split_top(text), [], 0
    while i < len(parts):
        j = next((j for j in range(len(parts), i, -1) if ", ".join(parts[i:j]) in known), None)
        if j is None:
            j = i + 1
            while j < len(parts) and (  # commas inside a sentence or before a subordinate clause
                (sentence and not SENTENCE_END_RE.search(parts[j - 1]))
                or parts[j].split(" ", 1)[0] in CLAUSE_WORDS
            ):
                j += 1
        out.append(", ".join(parts[i:j]))
        if first:
            break
        i = j
    return out


def _first_slash_alternative(m: re.Match) -> str:
    parts = [p.strip() for p in m.group(0).split("/")]
    lengths = [len(p) for p in parts]
    if (
        all(p.isupper() for p in parts)  # acronym: I/O, E/A
        or any(len(p) == 1 and p.islower() for p in parts)  # unit: km/h, m/s
        or (min(lengths) <= 3 and max(lengths) >= 6)  # likely multi-word alternative: document/in a place
    ):
        return m.group(0)
    return parts[0]


def clean(text: str, slashes: bool = True) -> str:
    """Strip annotations, resolve slash alternatives, unescape entities, NFC, normalise whitespace."""
    if "&" in text:
        text = ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if BRACKET_CHARS_RE.search(text):
        n = 1
        while n:  # nested brackets: innermost first
            text, n = BRACKETS_RE.subn("", text)
    if slashes and "/" in text:
        text = SLASH_RE.sub(_first_slash_alternative, text)
    if MESSY_SPACE_RE.search(text):
        text = SPACE_PUNCT_RE.sub(r"\1", " ".join(text.split()))
    return text.strip(" ,;:-")


def is_sentence(text: str) -> bool:
    """Full sentence: starts with an upper-case letter and ends with . ! ? (quotes around them allowed)."""
    core = text.strip(QUOTES)
    return core[:1].isupper() and core[-1:] in (".", "!", "?")


def plausible(en: str, de: str, max_words: int = MAX_WORDS, max_ratio: float = MAX_RATIO) -> bool:
    """Reject empty, over-long and length-mismatched pairs (character ratio, smoothed for short ones).

    Expects ``clean`` text (single spaces), so that words = spaces + 1."""
    if not en or not de or max(en.count(" "), de.count(" ")) >= max_words:
        return False
    return max(len(en), len(de)) + 5 <= max_ratio * (min(len(en), len(de)) + 5)


def extract(dict_dir: Path, limit: int | None = None, slashes: bool = True):
    """Return (example pairs {(en, de): priority}, headword pairs [(en, de)], stats)."""
    stats: dict = {}
    examples: dict[str, list[tuple[str, str]]] = {}
    heads: dict[str, list[tuple[str, str]]] = {}
    for name in DICTS:
        examples[name], entries = read_dict(dict_dir, name, limit)
        heads[name] = [h for h in map(parse_headword, entries) if h]
        stats[f"entries_{name}"] = len(entries)
        stats[f"examples_raw_{name}"] = len(examples[name])
    quoted = {name: {q for q, _ in exs} for name, exs in examples.items()}
    headwords = {name: {h for h, _ in hs} for name, hs in heads.items()}
    pairs: dict[tuple[str, str], int] = {}
    for name, other in zip(DICTS, DICTS[::-1], strict=True):
        groups: dict[str, list[str]] = {}  # opposite dictionary: quoted phrase -> its alternative lists
        for q, alts in dict.fromkeys(examples[other]):
            groups.setdefault(q, []).append(alts)
        kept = 0
        for q, alts in dict.fromkeys(examples[name]):
            alt_list = split_alternatives(alts, quoted[other], is_sentence(q))
            target = alt_list[0]
            for group_text in groups.get(target, []) if len(alt_list) > 1 else []:
                group = split_alternatives(group_text, quoted[name], is_sentence(target))
                if q in group and len(group) == len(alt_list):
                    target = alt_list[group.index(q)]
                    break
            src, tgt = clean(q, slashes), clean(target, slashes)
            en, de = (src, tgt) if name == "eng-deu" else (tgt, src)
            if plausible(en, de):
                kept += 1
                pairs[(en, de)] = min(pairs.get((en, de), 9), DICTS.index(name))
        stats[f"examples_unique_{name}"] = len(dict.fromkeys(examples[name]))
        stats[f"examples_clean_{name}"] = kept
    stats["examples_dedup"] = len(pairs)
    head_pairs: dict[tuple[str, str], None] = {}
    for name, other in zip(DICTS, DICTS[::-1], strict=True):
        for head, line in heads[name]:
            sentence = is_sentence(head)
            first = (
                line
                if ", " not in line
                else split_alternatives(line, headwords[other], sentence, first=True)[0]
            )
            src, tgt = clean(head, slashes), clean(first, slashes)
            en, de = (src, tgt) if name == "eng-deu" else (tgt, src)
            if not plausible(en, de) or (en, de) in pairs:
                continue
            if is_sentence(en) and is_sentence(de):  # Ding lines that are whole sentences: examples, really
                pairs[(en, de)] = 2 + DICTS.index(name)
            else:
                head_pairs[(en, de)] = None
    stats["headword_sentences_as_examples"] = len(pairs) - stats["examples_dedup"]
    stats["examples_total"] = len(pairs)
    stats["headword_pairs"] = len(head_pairs)
    return pairs, sorted(head_pairs), stats


def components(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Group pairs that share an English or a German string (union-find); sorted, deterministic."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for en, de in pairs:
        parent[find("en\0" + en)] = find("de\0" + de)
    comps: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        comps.setdefault(find("en\0" + pair[0]), []).append(pair)
    return sorted(sorted(c) for c in comps.values())


def select_headwords(head_pairs, exclude: set[str], mode: str, cap: int, seed: int) -> list[tuple[str, str]]:
    """Headword pairs for train.tsv (none of their strings in ``exclude``). ``short``: a seeded sample of
    ``cap`` pairs with <= SHORT_WORDS words per side, one-to-one (no English or German twice: no
    conflicting targets)."""
    if mode == "none":
        return []
    pairs = [p for p in head_pairs if p[0] not in exclude and p[1] not in exclude]
    if mode == "short":
        pairs = [(en, de) for en, de in pairs if max(en.count(" "), de.count(" ")) < SHORT_WORDS]
        random.Random(seed).shuffle(pairs)
        chosen: dict[tuple[str, str], None] = {}
        seen: set[str] = set()
        for en, de in pairs:
            if len(chosen) == cap:
                break
            if "en\0" + en not in seen and "de\0" + de not in seen:
                seen.update(("en\0" + en, "de\0" + de))
                chosen[(en, de)] = None
        pairs = sorted(chosen)
    return pairs


def make_splits(pairs, head_pairs, n_valid, n_test, seed, headwords="short", max_headwords=MAX_HEADWORDS):
    """Shuffle components with ``seed``; small ones fill test, then valid; the rest (+ headwords) train."""
    comps = components(sorted(pairs))
    random.Random(seed).shuffle(comps)
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "valid": [], "test": []}
    for comp in comps:
        best: dict[str, tuple[str, str]] = {}  # one reference per English: eng-deu's example, ...
        for en, de in sorted(comp, key=lambda p: (pairs[p], p)):
            best.setdefault(en, (en, de))
        fits = [s for s, n in (("test", n_test), ("valid", n_valid)) if len(splits[s]) + len(best) <= n]
        if fits and len(comp) <= 3:
            splits[fits[0]].extend(best.values())
        else:
            splits["train"].extend(comp)
    held_out = {s for name in ("valid", "test") for pair in splits[name] for s in pair}
    splits["headwords"] = select_headwords(head_pairs, held_out, headwords, max_headwords, seed + 1)
    splits["train"] += splits["headwords"]
    for i, name in enumerate(("train", "valid", "test")):
        splits[name] = sorted(set(splits[name]))
        random.Random(seed + 10 + i).shuffle(splits[name])
    return splits


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{en}\t{de}\n" for en, de in pairs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.freedict",
        description="Extract an English-German corpus (train/valid/test.tsv, english<TAB>german) from the "
        "FreeDict/Ding dictionaries (GPLv3/AGPLv3: keep the output out of the repository).",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory (created; outside the repo)")
    p.add_argument(
        "--dict-dir", type=Path, default=Path("/usr/share/dictd"), help="where freedict-*.dict.dz live"
    )
    p.add_argument(
        "--valid",
        type=int,
        default=2000,
        help="example pairs (one per English side) in valid.tsv (default 2000)",
    )
    p.add_argument(
        "--test",
        type=int,
        default=2000,
        help="example pairs in test.tsv (default 2000); test_sentences.tsv is its full-sentence subset",
    )
    p.add_argument("--seed", type=int, default=1234, help="shuffle/split seed (default 1234)")
    p.add_argument(
        "--headwords",
        choices=HEADWORD_MODES,
        default="short",
        help="headword -> first-translation pairs, added to train.tsv only: none; short (default: "
        f"<= {SHORT_WORDS} words per side, one German per English and vice versa, a seeded sample of "
        "--max-headwords); all "
        "(every headword pair, ~10x the examples). Headwords that are whole sentences always count as "
        "examples.",
    )
    p.add_argument(
        "--max-headwords",
        type=int,
        default=MAX_HEADWORDS,
        help=f"how many headword pairs --headwords short adds (default {MAX_HEADWORDS})",
    )
    p.add_argument("--keep-slashes", action="store_true", help="keep 'I/he/she' slash alternatives verbatim")
    p.add_argument("--limit", type=int, help="read only the first N entries of each dictionary (for tests)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not (args.dict_dir / "freedict-eng-deu.dict.dz").exists():
        print(f"error: no FreeDict dictionaries in {args.dict_dir}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    pairs, head_pairs, stats = extract(args.dict_dir, args.limit, slashes=not args.keep_slashes)
    splits = make_splits(
        pairs, head_pairs, args.valid, args.test, args.seed, args.headwords, args.max_headwords
    )
    splits["test_sentences"] = [p for p in splits["test"] if is_sentence(p[0]) and is_sentence(p[1])]
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("train", "valid", "test", "test_sentences"):
        write_tsv(args.out / f"{name}.tsv", splits[name])
        stats[name] = len(splits[name])
    stats["headwords_in_train"] = len(splits.get("headwords", []))
    stats["options"] = {k: str(v) for k, v in vars(args).items() if k not in ("out", "dict_dir")}
    (args.out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    width = max(map(len, stats))
    for key, value in stats.items():
        if key != "options":
            print(f"{key:<{width}}  {value:>8}")
    print(f"wrote {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
