"""``python -m desk export-nlu``: the inbox's labelled messages as Rasa NLU training data.

One YAML file per intent in the output folder (default ``data/nlu/reviewed/``, where ``make train``
finds it), rewritten in full on each export so a relabel or discard is reflected. Each example
says where it came from (inbox item, reviewer, date; as a comment and as the example's
``metadata``). Left out: messages already in the training data (compared without annotations,
case, width and spacing), repeats, examples of the held-out test splits (``make bench`` measures
on them), anything with a secret marker, and messages with personal
data (e-mail addresses, phone numbers, addresses, hashes, long numbers): those are counted in
the summary, never written.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

import yaml

from desk.models import NluInboxItem
from safety.redaction import MARKERS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = PROJECT_ROOT / "data/nlu/reviewed"
TRAINING_DATA = PROJECT_ROOT / "data/nlu"
# The held-out splits `make bench` measures on: a reviewed copy in the training data would flatter it.
HELD_OUT = (PROJECT_ROOT / "tests/nlu/holdout.yml", PROJECT_ROOT / "tests/nlu/real_heldout.tsv")
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
PERSONAL_DATA = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.]+"              # e-mail
    r"|(?<!\d)1[3-9]\d{9}(?!\d)"            # mainland mobile number
    r"|\+?\d[\d -]{9,}\d"                    # other phone numbers, long ids
    r"|(?:0x)?[0-9a-fA-F]{24,}"              # EVM addresses, hashes, keys
    r"|\bT[1-9A-HJ-NP-Za-km-z]{33}\b"        # TRON address
    r"|\b(?:bc1|[13])[a-zA-HJ-NP-Z0-9]{25,59}\b"  # Bitcoin address
)


def comparable(text: str) -> str:
    """What two examples share when they are the same for training: annotations, case, width, spaces ignored."""
    plain = _ANNOTATION.sub(r"\1", unicodedata.normalize("NFKC", text))
    return re.sub(r"\s+", " ", plain).strip().lower()


def existing_examples(root: Path, skip: Optional[Path] = None) -> Set[str]:
    """Every example of the training data under ``root`` (``skip``: the export's own folder)."""
    seen: Set[str] = set()
    for path in root.rglob("*.yml"):
        if skip is not None and skip.resolve() in path.resolve().parents:
            continue
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []:
            examples = block.get("examples") if isinstance(block, dict) else None
            if isinstance(examples, str):
                lines = [line.strip()[2:] for line in examples.splitlines() if line.strip().startswith("- ")]
            elif isinstance(examples, list):
                lines = [str(e.get("text") or "") for e in examples if isinstance(e, dict)]
            else:
                lines = []
            seen.update(comparable(line) for line in lines if line.strip())
    return seen


def held_out_examples(paths: Iterable[Path] = HELD_OUT) -> Set[str]:
    seen: Set[str] = set()
    for path in paths:
        if not path.exists():
            continue
        if path.suffix == ".tsv":
            with path.open(encoding="utf-8") as handle:
                rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
                seen.update(comparable(str(r.get("text") or "").replace(" / ", " ")) for r in rows)
        else:
            seen |= _examples_of(path)
    return seen


def _examples_of(path: Path) -> Set[str]:
    found: Set[str] = set()
    for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []:
        examples = block.get("examples") if isinstance(block, dict) else None
        if isinstance(examples, str):
            found.update(comparable(line.strip()[2:]) for line in examples.splitlines() if line.strip().startswith("- "))
    return found


def annotated(text: str, entities: Iterable[Dict[str, object]]) -> str:
    """``text`` with Rasa's ``[value](entity)`` annotations; brackets of the user's own are defused."""
    found = []
    for entity in entities:
        value, start = str(entity.get("value") or ""), entity.get("start")
        if not value:
            continue
        if not (isinstance(start, int) and text[start:start + len(value)] == value):
            start = text.find(value)  # offsets of the stored text; spacing may differ here
        if start >= 0:
            found.append((start, start + len(value), str(entity["entity"])))
    spans = sorted(found, reverse=True)
    pieces, cursor = [], len(text)
    for start, end, name in spans:
        if end > cursor or start < 0:
            continue  # overlapping: keep the later one
        pieces.append(_defuse(text[end:cursor]))
        pieces.append(f"[{text[start:end]}]({name})")
        cursor = start
    pieces.append(_defuse(text[:cursor]))
    return "".join(reversed(pieces))


def _defuse(text: str) -> str:
    return text.replace("[", "［").replace("]", "］")


@dataclass
class ExportSummary:
    written: Dict[str, int] = field(default_factory=dict)
    already_trained: int = 0
    held_out: int = 0
    repeated: int = 0
    secret: int = 0
    personal_data: int = 0

    def as_dict(self) -> Dict[str, object]:
        return {"written": self.written, "examples": sum(self.written.values()), "skipped": {
            "already_in_training_data": self.already_trained, "in_held_out_split": self.held_out, "repeated": self.repeated,
            "secret_marker": self.secret, "personal_data": self.personal_data}}


def has_secret_marker(text: str) -> bool:
    return any(marker in text for marker in MARKERS.values()) or "已隐藏" in text or "hidden]" in text


def export(items: Iterable[NluInboxItem], out: Path = DEFAULT_OUT, training_root: Path = TRAINING_DATA) -> ExportSummary:
    """Write the labelled ``items`` under ``out``, one ``<intent>.yml`` each; the summary of what was left out."""
    known = existing_examples(training_root, skip=out)
    held_out = held_out_examples()
    summary = ExportSummary()
    exported: Set[str] = set()
    chosen: Dict[str, List[NluInboxItem]] = {}
    for item in items:
        text = " ".join((item.text or "").split())
        key = comparable(text)
        if not item.label_intent or not key:
            continue
        if has_secret_marker(text):
            summary.secret += 1
        elif PERSONAL_DATA.search(text):
            summary.personal_data += 1
        elif key in exported:
            summary.repeated += 1
        elif key in known:
            summary.already_trained += 1
        elif key in held_out:
            summary.held_out += 1
        else:
            exported.add(key)
            chosen.setdefault(item.label_intent, []).append(item)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.yml"):
        if stale.stem not in chosen:
            stale.unlink()
    for intent, members in sorted(chosen.items()):
        (out / f"{intent}.yml").write_text(_yaml(intent, members), encoding="utf-8")
        summary.written[intent] = len(members)
    return summary


def _yaml(intent: str, items: List[NluInboxItem]) -> str:
    lines = ['version: "3.1"',
             "# Generated by `python -m desk export-nlu` from the desk's NLU inbox: do not edit, relabel in the desk.",
             "# Each example: the inbox item, who reviewed it and when.",
             "nlu:", f"- intent: {intent}", "  examples:"]
    for item in items:
        reviewer = item.reviewer.username if item.reviewer else "unknown"
        day = item.reviewed_at.strftime("%Y-%m-%d") if item.reviewed_at else "unknown"
        text = annotated(" ".join(item.text.split()), json.loads(item.label_entities or "[]"))
        lines += [f"  # inbox item {item.id}, reviewed by {reviewer} on {day} ({item.reason}, {item.channel})",
                  "  - text: " + json.dumps(text, ensure_ascii=False),
                  "    metadata:",
                  f"      inbox_item: {item.id}",
                  f"      reviewed_by: {json.dumps(reviewer)}",
                  f"      reviewed_at: \"{day}\""]
    return "\n".join(lines) + "\n"
