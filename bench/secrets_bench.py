"""Secrets benchmark: seed phrases pasted whole, in part and over several messages, and ordinary sentences.

Generates real mnemonics (``mnemonic`` package) in English, 简体 and 繁體 and
pastes them the ways users do — whole (12/15/18/24 words), 11 or 8 of 12 in one
message, 6 + 6, 8 + 7, 5 + 7, 4 + 4 + 4 and 3 + 3 + 3 + 3 over consecutive messages — with spaces,
commas, 、，, newlines, mixed separators, list numbers ("1." "1)" "(1)" "①"),
upper / capitalised case, Chinese with and without spaces. Each conversation
goes through the input gate's redaction (``channels.input_gate.SeedTails``).

caught: the conversation is flagged (warning + P1) and nothing of the phrase is
in clear, except a split phrase's first message (stored before the rest
arrives).
hidden: nothing at all in clear in what is stored at the end, the first message
included: a first part of three words or more that is the whole message is
usually hidden on arrival, and one that the next message continues into a seed
is hidden in the tracker store when that turn is saved (``hide_ending``).

Then every ordinary sentence — the NLU training examples, the held-out split and
the real user messages in data/real/raw/*.tsv — goes through ``redact()`` alone
and, file by file, as one conversation through the gate: any change is a false
redaction. Writes ``results/secrets.md``.

    python -m bench.secrets_bench [--per-form 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

from mnemonic import Mnemonic

from bench.report import machine
from channels.input_gate import SeedTails
from safety.redaction import MARKERS, hide_ending

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUT = PROJECT_ROOT / "results" / "secrets.md"
LANGUAGES = {"english": "en", "chinese_simplified": "zh-Hans", "chinese_traditional": "zh-Hant"}
STRENGTH = {12: 128, 15: 160, 18: 192, 24: 256}
# name -> (phrase length, parts as (start, end) word indexes, one per message)
SHAPES = {
    "whole 12": (12, [(0, 12)]), "whole 15": (15, [(0, 15)]), "whole 18": (18, [(0, 18)]),
    "whole 24": (24, [(0, 24)]), "11 of 12": (12, [(0, 11)]), "8 of 12": (12, [(2, 10)]),
    "6 of 12": (12, [(0, 6)]), "6 + 6": (12, [(0, 6), (6, 12)]), "8 + 7 (15)": (15, [(0, 8), (8, 15)]),
    "12 + 12 (24)": (24, [(0, 12), (12, 24)]), "4 + 4 + 4": (12, [(0, 4), (4, 8), (8, 12)]),
    "5 + 7": (12, [(0, 5), (5, 12)]), "3 + 3 + 3 + 3": (12, [(0, 3), (3, 6), (6, 9), (9, 12)]),
}
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳㉑㉒㉓㉔"
NUMBERINGS = {
    "none": lambda i: "", "1.": lambda i: f"{i}.", "1. ": lambda i: f"{i}. ", "1)": lambda i: f"{i}) ",
    "(1)": lambda i: f"({i})", "1、": lambda i: f"{i}、", "①": lambda i: CIRCLED[i - 1],
}
SEPARATORS = [" ", ", ", "\n", "，", "、", "  ", "\t", "mixed"]
EN_CASES = ["lower", "upper", "capitalised"]


def pick_form(language: str, rng: random.Random) -> Tuple[str, str, str]:
    """Numbering, separator and case (or "zh unspaced"/"zh spaced") for all parts of one phrase."""
    numbering, separator = rng.choice(list(NUMBERINGS)), rng.choice(SEPARATORS)
    if language == "english":
        return numbering, separator, rng.choice(EN_CASES)
    return numbering, separator, "zh unspaced" if rng.random() < 1 / 3 else "zh spaced"


def paste(words: List[str], first_number: int, form: Tuple[str, str, str], rng: random.Random) -> Tuple[str, str]:
    """One message of ``words`` in ``form``, and the form's name."""
    numbering, separator, case = form
    if case == "zh unspaced":
        return "".join(words), case
    if case in EN_CASES:
        words = [w.upper() if case == "upper" else w.capitalize() if case == "capitalised" else w for w in words]
    items = [NUMBERINGS[numbering](first_number + k) + w for k, w in enumerate(words)]
    if separator == "mixed":
        text = items[0] + "".join(rng.choice([" ", ", ", "\n", "，", "、"]) + item for item in items[1:])
    else:
        text = separator.join(items)
    return text, f"{case}, sep {separator!r}, numbering {numbering}"


def in_clear(words: List[str], text: str, language: str) -> int:
    """How many of ``words`` can still be read in ``text`` (the markers' own characters aside)."""
    for marker in MARKERS.values():
        text = text.replace(marker, " ")
    if language == "english":
        tokens = set(text.lower().replace(",", " ").replace(".", " ").replace(")", " ").split())
        return sum(w in tokens for w in words)
    return sum(w in text for w in words)


def run_seeds(per_form: int, rng: random.Random) -> Dict[str, object]:
    tails = SeedTails()
    results: List[Dict[str, object]] = []
    for language in LANGUAGES:
        mnemo = Mnemonic(language)
        for shape, (length, parts) in SHAPES.items():
            for _ in range(per_form):
                words = mnemo.generate(STRENGTH[length]).split(" ")
                conversation = ("bench", f"{language}-{shape}-{rng.random()}")
                flagged, stored_texts, forms, chosen = False, [], [], pick_form(language, rng)
                for start, end in parts:
                    text, form = paste(words[start:end], start + 1, chosen, rng)
                    result = tails.redact(conversation, text)
                    flagged |= "mnemonic" in result.kinds
                    if result.continues_previous and stored_texts:
                        # What the tracker store does as it saves this turn (rasa_server/tracker_store.py).
                        stored_texts[-1] = hide_ending(stored_texts[-1]).text
                    stored_texts.append(result.text)
                    forms.append(form)
                clear = [in_clear(words[start:end], text, language) for (start, end), text in zip(parts, stored_texts)]
                # A split phrase's first message is stored before the rest arrives: it counts in "hidden" only.
                stored = sum(clear[1:]) if len(parts) > 1 else clear[0]
                results.append({"language": LANGUAGES[language], "shape": shape, "forms": forms,
                                "caught": flagged and stored == 0,
                                "hidden": flagged and sum(clear) == 0, "clear": sum(clear)})
    return {"results": results}


def _examples(path: Path) -> List[str]:
    """The "- " lines of a Rasa YAML file's ``examples: |`` blocks, entity annotations removed."""
    from rasa.shared.nlu.training_data.loading import load_data

    return [m.get("text") for m in load_data(str(path)).intent_examples]


def ordinary_sentences() -> Dict[str, List[str]]:
    by_file: Dict[str, List[str]] = {}
    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")) + [PROJECT_ROOT / "tests/nlu/holdout.yml"]:
        by_file[str(path.relative_to(PROJECT_ROOT))] = _examples(path)
    csv.field_size_limit(sys.maxsize)
    for path in sorted((PROJECT_ROOT / "data" / "real" / "raw").glob("*.tsv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            by_file[str(path.relative_to(PROJECT_ROOT))] = [r["text"] for r in rows if r.get("text")]
    return by_file


def run_ordinary() -> Dict[str, object]:
    from safety.redaction import redact

    by_file = ordinary_sentences()
    alone, joined, counted = [], [], 0
    tails = SeedTails()
    for name, sentences in by_file.items():
        for sentence in sentences:
            counted += 1
            if redact(sentence).text != sentence:
                alone.append(sentence)
            if tails.redact(("bench", name), sentence).text != sentence:
                joined.append(sentence)
    return {"files": {k: len(v) for k, v in by_file.items()}, "sentences": counted,
            "false_alone": alone, "false_in_conversation": joined}


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "0/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-form", type=int, default=30, help="phrases per language and shape")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    seeds = run_seeds(args.per_form, rng)["results"]
    ordinary = run_ordinary()
    elapsed = time.monotonic() - started

    total = len(seeds)
    caught = sum(r["caught"] for r in seeds)
    hidden = sum(r["hidden"] for r in seeds)
    by_shape: Dict[Tuple[str, str], List[Dict[str, object]]] = defaultdict(list)
    by_form: Dict[str, List[Dict[str, object]]] = defaultdict(list)
    for r in seeds:
        by_shape[(r["shape"], r["language"])].append(r)
        for form in set(f.split(",")[0] for f in r["forms"]):
            by_form[f"{r['language']} {form}"].append(r)
    false_alone, false_joined = len(ordinary["false_alone"]), len(ordinary["false_in_conversation"])
    lines = [
        "| metric | value | target |", "|---|---|---|",
        f"| seed phrases caught (flagged; nothing in clear after a split phrase's first message) | "
        f"{share(caught, total)} | ≥ 99 % |",
        f"| seed phrases with nothing at all in clear, first message included | {share(hidden, total)} | |",
        f"| ordinary sentences changed by `redact()` | {share(false_alone, ordinary['sentences'])} | 0 |",
        f"| ordinary sentences changed at the gate (each file one conversation) | "
        f"{share(false_joined, ordinary['sentences'])} | 0 |",
        "", "## By shape and language", "", "| shape | " + " | ".join(LANGUAGES.values()) + " |",
        "|---|" + "---|" * len(LANGUAGES),
    ]
    for shape in SHAPES:
        cells = []
        for lang in LANGUAGES.values():
            rows = by_shape[(shape, lang)]
            cells.append(f"{sum(r['caught'] for r in rows)}/{len(rows)} caught, {sum(r['hidden'] for r in rows)} hidden")
        lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    lines += ["", "## By form (a phrase counts under each form one of its messages used)", "",
              "| form | caught |", "|---|---|"]
    lines += [f"| {form} | {share(sum(r['caught'] for r in rows), len(rows))} |" for form, rows in sorted(by_form.items())]
    missed = [r for r in seeds if not r["caught"]]
    if missed:
        lines += ["", "## Missed", "", "| language | shape | forms | words in clear |", "|---|---|---|---|"]
        lines += [f"| {r['language']} | {r['shape']} | {'; '.join(r['forms'])!r} | {r['clear']} |" for r in missed[:40]]
    lines += ["", "## Ordinary sentences", "", "| source | sentences |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in ordinary["files"].items()]
    for title, changed in (("changed by redact()", ordinary["false_alone"]),
                           ("changed at the gate", ordinary["false_in_conversation"])):
        if changed:
            lines += ["", f"Sentences {title}:", ""] + [f"- {s[:200]!r}" for s in changed]
    text = "\n".join([
        "# Secrets: seed phrases pasted whole, in part and in parts, and ordinary sentences", "",
        f"{total} generated phrases ({args.per_form} per language and shape, seed {args.seed}) and "
        f"{ordinary['sentences']} ordinary sentences; {elapsed:.0f} s. "
        "Regenerate with `python -m bench.secrets_bench`.", "",
        f"Machine: {machine()}.", "", *lines, ""])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print("\n".join(lines[:6]))
    print(f"written to {OUT.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
