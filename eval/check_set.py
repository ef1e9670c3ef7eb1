"""Check eval/everyday_en_de.json: indices in range, `moved` as the conventions define it; print each pair.

python eval/check_set.py [PATH]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "everyday_en_de.json"


def moved_flags(pairs: list[list[int]]) -> list[bool]:
    """[[de, en], ...] -> per pair: its rank by German order differs from its rank by English order."""
    by_de = sorted(range(len(pairs)), key=lambda k: (pairs[k][0], pairs[k][1]))
    by_en = sorted(range(len(pairs)), key=lambda k: (pairs[k][1], pairs[k][0]))
    return [by_de.index(k) != by_en.index(k) for k in range(len(pairs))]


def check(items: list[dict]) -> list[str]:
    """Every problem found, as one line each (empty: the set is consistent)."""
    problems = []
    for n, item in enumerate(items):
        en, de = item["en"].split(), item["de"].split()
        pairs = [[p["de"], p["en"]] for p in item["pairs"]]
        for d, e in pairs:
            if not (0 <= d < len(de) and 0 <= e < len(en)):
                problems.append(f"item {n}: pair {[d, e]} out of range")
        if len({d for d, _ in pairs}) != len(pairs):
            problems.append(f"item {n}: a German word is aligned twice")
        if [p["moved"] for p in item["pairs"]] != moved_flags(pairs):
            problems.append(f"item {n}: 'moved' differs from the computed ranks")
    return problems


def main(path: Path = DEFAULT) -> int:
    items = json.loads(path.read_text())["items"]
    for n, item in enumerate(items):
        en, de = item["en"].split(), item["de"].split()
        print(f"{n:2d} {item['en']}  ->  {item['de']}")
        for p in item["pairs"]:
            print(f"     {de[p['de']]:>14} = {en[p['en']]:<14}{'  moved' if p['moved'] else ''}")
    problems = check(items)
    moved = sum(p["moved"] for item in items for p in item["pairs"])
    total = sum(len(item["pairs"]) for item in items)
    print(f"{len(items)} items, {total} pairs, {moved} moved; problems: {problems or 'none'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
