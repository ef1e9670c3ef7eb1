"""Tests of the FreeDict corpus extractor: cleaning rules on lines copied from the real dictionaries, the
whole pipeline on a tiny hand-made dictd pair, and one run on the installed dictionaries (skipped without)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tools import freedict as fd

REAL_DIR = Path("/usr/share/dictd")

# --- dictd container -------------------------------------------------------------------------------


def b64(n: int) -> str:
    """dictd's base64 number encoding (the inverse of fd.b64_numbers)."""
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = ""
    while True:
        out = digits[n % 64] + out
        n //= 64
        if not n:
            return out


def test_b64_numbers_match_dictd_index_values():
    # "c" / "5S" are the real 00databaseinfo offset / length; "EvgA1" is a real offset
    assert fd.b64_numbers(["A", "B", "BA", "c", "5S", "EvgA1"]) == [0, 1, 64, 28, 3666, 79560757]
    assert fd.b64_numbers([b64(n) for n in (0, 63, 64, 4095, 100143467)]) == [0, 63, 64, 4095, 100143467]


# --- line formats ----------------------------------------------------------------------------------


def test_parse_example_plain_and_with_inner_quotes():
    assert fd.parse_example('      "Das Haus ist alt."  - The house is old.') == (
        "Das Haus ist alt.",
        "The house is old.",
    )
    # quotes inside the quoted side: only the outer pair is the delimiter
    assert fd.parse_example('      ""Danger, black ice!""  - „Vorsicht Glatteis!“') == (
        '"Danger, black ice!"',
        "„Vorsicht Glatteis!“",
    )
    assert fd.parse_example('      "socket 1/4" or 3/8""  - Aufnahme 1/4" oder 3/8"') == (
        'socket 1/4" or 3/8"',
        'Aufnahme 1/4" oder 3/8"',
    )


@pytest.mark.parametrize(
    "line",
    [
        "         Note: auf der Speisekarte",
        "   Synonyms: {A sharp}, {A flat}",
        " see: {eel stocks}",
        "A and B horizons /ɐ and bˈiː/",
        '   "not an example"  - wrong indentation',
    ],
)
def test_parse_example_rejects_other_lines(line):
    assert fd.parse_example(line) is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("A major /ɐ mˈeɪdʒə/\nA-Dur <neut>\n see: {A}, {A sharp}\n\n", ("A major", "A-Dur")),
        (
            "the nuts and bolts /ðə nˈʌts/\n [coll.] das A und O [ugs.]\n",
            ("the nuts and bolts", "das A und O"),
        ),
        ("Aal /ˈɑːl/ <masc, n, sg>\n [cook.] Eel <n>\n", ("Aal", "Eel")),
        (  # abbreviation with its own IPA after the headword's
            "departure /dɪpˈɑːtʃə/ (dep. /dˈɛp/)\nAbfahrt <fem>, Abflug <masc>\n",
            ("departure", "Abfahrt, Abflug"),
        ),
        (  # a spaced slash inside the headword is not the IPA
            "household waste recycling centre / center /hˈaʊshəʊld/ (HWRC /ˌeɪtʃ/)\nWertstoffhof <masc>\n",
            ("household waste recycling centre / center", "Wertstoffhof"),
        ),
        ("er/sie/es schrumpft /ˈeːɾ/\nhe/she/it shrinks\n", ("er/sie/es schrumpft", "he/she/it shrinks")),
        (  # "<v, trans>" must not leave a stray ", " behind
            "tenter sth. /tˈɛntə/\n [Am.] etw. aufrahmen, etw. aufspannen <v, trans>\n",
            ("tenter sth.", "etw. aufrahmen, etw. aufspannen"),
        ),
    ],
)
def test_parse_headword_variants(entry, expected):
    assert fd.parse_headword(entry) == expected


@pytest.mark.parametrize(
    "entry",
    [
        "saddle damsel /sˈadəl dˈamsəl/\n\n",  # no translation line
        'Brautschau /bɾˈaʊtʃaʊ/ <fem, n, sg>\n\n      "auf Brautschau gehen"  - go looking for a wife\n',
        "Lobbygruppe in den USA /lˈɔby/\npolitical action committeePAC,  /pˈɑːk/\n",  # garbled abbreviation
        "Ziegenfelle /tsˈiːɡɛnfˌɛlə/ <pl>\n   Synonym: {Ziegenleder}\n",
    ],
)
def test_parse_headword_skips_entries_without_usable_translation(entry):
    assert fd.parse_headword(entry) is None


# --- alternatives ----------------------------------------------------------------------------------


def test_split_top_ignores_separators_inside_brackets():
    assert fd.split_top("A and B horizons, sola, solums") == ["A and B horizons", "sola", "solums"]
    assert fd.split_top("POL (petrol, oil & lubricants), fuel") == ["POL (petrol, oil & lubricants)", "fuel"]
    assert fd.split_top("Forschung und Entwicklung (F+E; FuE)") == ["Forschung und Entwicklung (F+E; FuE)"]
    assert fd.split_top("ein Eid (auf; bei), ein Schwur") == ["ein Eid (auf; bei)", "ein Schwur"]


def test_split_alternatives_phrases_split_at_every_comma():
    assert fd.split_alternatives("Schrumpfbänder, Schrumpfringe") == ["Schrumpfbänder", "Schrumpfringe"]


def test_split_alternatives_sentences_split_only_after_final_punctuation():
    text = "Wenn Sie in Strandnähe bleiben wollen, ist diese Fremdenpension genau das Richtige."
    assert fd.split_alternatives(text, sentence=True) == [text]
    two = "Komm, gehen wir etwas trinken!, Komm, trinken wir irgendwo einen Schluck!"
    assert fd.split_alternatives(two, sentence=True) == [
        "Komm, gehen wir etwas trinken!",
        "Komm, trinken wir irgendwo einen Schluck!",
    ]


def test_split_alternatives_prefers_phrases_quoted_in_the_other_dictionary():
    alt = "Täuschung von Gläubigern, deren Forderungen besichert sind (Straftatbestand), Gläubigertäuschung"
    known = {"Täuschung von Gläubigern, deren Forderungen besichert sind (Straftatbestand)"}
    assert fd.split_alternatives(alt, known) == [*known, "Gläubigertäuschung"]
    assert fd.split_alternatives("a, b, c", {"b, c"}) == ["a", "b, c"]
    assert fd.split_alternatives("a, b, c", {"b, c"}, first=True) == ["a"]


def test_split_alternatives_keeps_subordinate_clauses_attached():
    assert fd.split_alternatives("Maßnahmen, um freie Wahlen zu sichern, Wahlschutz") == [
        "Maßnahmen, um freie Wahlen zu sichern",
        "Wahlschutz",
    ]


# --- cleaning --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Aalbestand <masc> [zool.]", "Aalbestand"),
        (" [coll.] das A und O [ugs.]", "das A und O"),
        ("Haus {n}, Häuser {pl}", "Haus, Häuser"),
        ("colour [Br.]; color [Am.]", "colour; color"),
        ("stratigraphic(al) break", "stratigraphic break"),
        ("Er stupste mich (am Arm) an.", "Er stupste mich an."),
        ("Zirbelkiefer (Pinus cembra (L.))", "Zirbelkiefer"),  # nested
        ("(sich; etw.) in Sicherheit bringen", "in Sicherheit bringen"),
        ("Convert it. (contract amendment)", "Convert it."),
        ("Fish &amp; Chips &#228; &lt;3", "Fish & Chips ä <3"),
        ("research and development R&D, M&A", "research and development R&D, M&A"),  # not entities
        ("Cafe\u0301  au\tlait\n", "Café au lait"),  # NFC; tabs/newlines never survive
        ("I/he/she washed", "I washed"),
        ("er/sie/es schrumpft", "er schrumpft"),
        ("trolley buses / busses", "trolley buses"),
        ("input/output via I/O at 50 km/h", "input via I/O at 50 km/h"),  # acronym and unit stay
        ("on a document/in a place", "on a document/in a place"),  # multi-word alternative stays
        ("give sb./sth. a poke", "give sb./sth. a poke"),
        ("cross one's arms/one's legs", "cross one's arms/one's legs"),
        ('1/4" oder 3/8"', '1/4" oder 3/8"'),
    ],
)
def test_clean(raw, expected):
    assert fd.clean(raw) == expected


def test_clean_keep_slashes():
    assert fd.clean("I/he/she washed", slashes=False) == "I/he/she washed"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I understood.", True),
        ("Hope springs eternal!", True),
        ("„Vorsicht Glatteis!“", True),
        ("'Where are you going?' – 'Out!'", True),
        ("parole sb.", False),
        ("the house is old.", False),
        ("The house", False),
        ("", False),
    ],
)
def test_is_sentence(text, expected):
    assert fd.is_sentence(text) is expected


def test_plausible_length_filters():
    assert fd.plausible("the house", "das Haus")
    assert fd.plausible("cirrhosis of the kidneys", "Schrumpfnieren")  # compounds are short
    assert not fd.plausible("", "Haus")
    assert not fd.plausible("plants which are well adapted to harsh winters", "Pflanzen")
    assert not fd.plausible(" ".join(["word"] * 61), " ".join(["Wort"] * 61))
    assert fd.plausible(" ".join(["word"] * 60), " ".join(["Wort"] * 60))


# --- whole pipeline on a hand-made dictionary pair -------------------------------------------------


def write_dictd(directory: Path, name: str, entries: list[str]) -> None:
    """A minimal dictd pair: gzip .dict.dz plus an index of base64 offsets (one line per headword)."""
    blobs = [e.encode() for e in entries]
    index, offset = [], 0
    for blob, entry in zip(blobs, entries, strict=True):
        index.append(f"{entry.split(' /')[0]}\t{b64(offset)}\t{b64(len(blob))}\n")
        offset += len(blob)
    with gzip.open(directory / f"freedict-{name}.dict.dz", "wb") as f:
        f.write(b"".join(blobs))
    (directory / f"freedict-{name}.index").write_text("".join(sorted(index)), encoding="utf-8")


ENG_DEU = [
    "house /hˈaʊs/\nHaus <neut>, Gebäude <neut>\n"
    '      "The house is old."  - Das Haus ist alt.\n'
    '      "I/he/she washed"  - ich/er/sie wusch\n'
    '      "colour film"  - Farbfilm, Buntfilm\n'
    '      "color film"  - Farbfilm, Buntfilm\n',
    "She is on shore leave. /ʃiː/\nSie hat Landgang.\n",
    "I have business to do before we meet. /aɪ/\nIch muss noch etwas erledigen, bevor wir uns treffen.\n",
    "shrink /ʃɹˈɪŋk/ <v>\nschrumpfen <v>\n",
]
DEU_ENG = [
    "Haus /hˈaʊs/ <neut, n, sg>\nhouse <n>\n"
    '      "Das Haus ist alt."  - The house is old.\n'
    '      "Farbfilm"  - colour film, color film\n'
    '      "Buntfilm"  - colour film, color film\n',
    'Wetter /vˈɛtɜ/ <neut, n, sg>\nweather <n>\n      "Wie ist das Wetter?"  - What is the weather like?\n',
]


def test_extract_pairs_dedups_directions_and_pairs_alternatives_by_index(tmp_path):
    write_dictd(tmp_path, "eng-deu", ENG_DEU)
    write_dictd(tmp_path, "deu-eng", DEU_ENG)
    pairs, head_pairs, stats = fd.extract(tmp_path)
    assert ("The house is old.", "Das Haus ist alt.") in pairs  # found in both dictionaries, kept once
    assert ("What is the weather like?", "Wie ist das Wetter?") in pairs  # deu-eng turned round
    assert ("I washed", "ich wusch") in pairs
    # two alternatives on each side: index-wise, not everything with the first one
    assert {p for p in pairs if "film" in p[0]} == {("colour film", "Farbfilm"), ("color film", "Buntfilm")}
    # sentence headwords count as examples (with the in-sentence comma intact), words as headwords
    assert (
        "I have business to do before we meet.",
        "Ich muss noch etwas erledigen, bevor wir uns treffen.",
    ) in pairs
    assert ("She is on shore leave.", "Sie hat Landgang.") in pairs
    assert ("shrink", "schrumpfen") in head_pairs and ("house", "Haus") in head_pairs
    assert stats["examples_raw_eng-deu"] == 4 and stats["examples_raw_deu-eng"] == 4
    assert stats["examples_dedup"] == 5 and stats["headword_sentences_as_examples"] == 2


def test_make_splits_keeps_connected_strings_together():
    pairs = {("a", "A"): 0, ("a", "B"): 1, ("b", "B"): 1, ("c", "C"): 0, ("d", "D"): 0, ("e", "E"): 0}
    pairs |= {("z", f"Z{i}"): 0 for i in range(4)}  # a big component: always train
    heads = [("c", "C2"), ("x", "X"), ("x", "Y"), ("w x y z", "W X Y Z")]
    for seed in range(20):
        s = fd.make_splits(pairs, heads, n_valid=1, n_test=1, seed=seed, headwords="all")
        assert len(s["test"]) == len(s["valid"]) == 1
        held = {w for split in ("valid", "test") for p in s[split] for w in p}
        assert not held & {w for p in s["train"] for w in p}  # neither side leaks into train
        assert ("a", "B") not in s["test"] + s["valid"]  # a, b, A, B form one component of 3 pairs
        assert sum(p[0] == "z" for p in s["train"]) == 4
    short = fd.make_splits(pairs, heads, 1, 1, 0, headwords="short")["headwords"]
    assert sum(en == "x" for en, _ in short) == 1  # one German per English
    assert ("w x y z", "W X Y Z") not in short  # four words
    assert ("w x y z", "W X Y Z") in fd.make_splits(pairs, heads, 1, 1, 0, headwords="all")["train"]
    assert len(fd.make_splits(pairs, heads, 1, 1, 0, headwords="short", max_headwords=1)["headwords"]) == 1
    assert fd.make_splits(pairs, heads, 1, 1, 0, headwords="none")["headwords"] == []


# --- the installed dictionaries --------------------------------------------------------------------


def read_tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").split("\n")[:-1]]


@pytest.mark.slow  # every entry of the two Debian dictionaries
def test_real_dictionaries(tmp_path):
    if not (REAL_DIR / "freedict-eng-deu.dict.dz").exists():
        pytest.skip(
            f"{REAL_DIR}/freedict-eng-deu.dict.dz absent (apt install dict-freedict-eng-deu ...-deu-eng)"
        )
    argv = ["--limit", "30000", "--valid", "150", "--test", "200", "--seed", "7"]
    assert fd.main(["--out", str(tmp_path / "a"), *argv]) == 0
    assert fd.main(["--out", str(tmp_path / "b"), *argv]) == 0
    names = ["train.tsv", "valid.tsv", "test.tsv", "test_sentences.tsv", "stats.json"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    splits = {n: read_tsv(tmp_path / "a" / f"{n}.tsv") for n in ("train", "valid", "test", "test_sentences")}
    for name, rows in splits.items():
        assert rows, name
        assert all(len(r) == 2 and r[0] and r[1] and "\r" not in r[0] + r[1] for r in rows), name
    assert (len(splits["valid"]), len(splits["test"])) == (150, 200)
    english = {n: {r[0] for r in rows} for n, rows in splits.items()}
    assert not english["train"] & english["valid"]
    assert not english["train"] & english["test"]
    assert not english["valid"] & english["test"]
    assert len(english["test"]) == len(splits["test"])  # one reference per English sentence
    assert all(fd.is_sentence(en) and fd.is_sentence(de) for en, de in splits["test_sentences"])
    assert {tuple(r) for r in splits["test_sentences"]} <= {tuple(r) for r in splits["test"]}
    everything = {tuple(r) for n in ("train", "valid", "test") for r in splits[n]}
    assert ("the Aachen Cathedral", "der Aachener Dom") in everything  # in both dictionaries
    stats = json.loads((tmp_path / "a" / "stats.json").read_text())
    assert stats["test"] == 200 and stats["examples_raw_eng-deu"] > stats["examples_unique_eng-deu"] > 0


def test_cli_is_python_m_tools_freedict():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "tools.freedict", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m tools.freedict")
    for option in ("--out", "--dict-dir", "--valid", "--test", "--seed", "--headwords", "--max-headwords"):
        assert option in done.stdout
