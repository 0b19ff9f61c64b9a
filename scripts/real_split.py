"""Build the real-words training data and held-out split from ``data/real/raw/*.tsv``.

Each raw file holds messages real wallet users wrote in public threads, with the
thread URL (docs/labelling.md). This script:

1. fills the placeholders (``[TX_HASH]``, ``[ADDRESS]``, ``[LINK host]``, ...) with
   well-formed stand-in values, so the model sees what a real hash or link looks
   like (they are generated here, never a real user's data);
2. drops exact duplicates, examples already in ``data/nlu`` and messages the redactor would change;
3. assigns whole threads to ``train`` or ``heldout`` by a stable hash of the URL
   (``HELDOUT_PERCENT``), so no thread is on both sides;
4. writes ``data/nlu/real_users.yml`` (training, Rasa NLU YAML),
   ``tests/nlu/real_heldout.tsv`` (never trained on) and ``data/real/sources.tsv``
   (provenance: one line per message with its id, split, URL, language and intent).

Run: ``python scripts/real_split.py`` (deterministic; re-run after adding raw files).
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from safety.redaction import redact  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "data/real/raw"
TRAIN_OUT = ROOT / "data/nlu/real_users.yml"
HELDOUT_OUT = ROOT / "tests/nlu/real_heldout.tsv"
SOURCES_OUT = ROOT / "data/real/sources.tsv"
HELDOUT_PERCENT = 38
NEVER_FREE_TEXT = {"affirm", "deny", "give_rating", "cancel_handoff", "incident_subscribe", "secret_exposed"}

sys.path.insert(0, str(ROOT))
from nlu.triage import TRIAGE_CLASS  # noqa: E402


def _hex(seed: str, n: int) -> str:
    out = ""
    while len(out) < n:
        seed = hashlib.sha256(seed.encode()).hexdigest()
        out += seed
    return out[:n]


def fill_placeholders(text: str, seed: str) -> str:
    """Stand-in values for the placeholders (deterministic per message)."""
    counter = iter(range(1000))

    def tx(_m: re.Match) -> str:
        return "0x" + _hex(f"{seed}tx{next(counter)}", 64)

    def address(_m: re.Match) -> str:
        return "0x" + _hex(f"{seed}addr{next(counter)}", 40)

    def link(m: re.Match) -> str:
        host = (m.group(1) or "").strip()
        return f"https://{host}/tx/0x{_hex(seed + host, 64)}" if host else "https://example.com/page"

    text = re.sub(r"\[TX_HASH\]", tx, text)
    text = re.sub(r"\[ADDRESS\]", address, text)
    text = re.sub(r"\[LINK\s*([^\]]*)\]", link, text)
    text = (text.replace("[EMAIL]", "user@example.com").replace("[PHONE]", "13800000000")
            .replace("[NAME]", "Alex").replace("[ID]", "20231234"))
    # Rasa reads "[text](entity)" and "[text]{...}" as entity annotations: break the pattern.
    return re.sub(r"\](?=[({])", "] ", text).replace(" / ", "\n").strip()


def bucket(url: str) -> int:
    return int(hashlib.sha256(url.encode("utf-8")).hexdigest()[:8], 16) % 100


def existing_examples() -> set:
    seen = set()
    for path in (ROOT / "data/nlu").glob("*.yml"):
        if path == TRAIN_OUT:
            continue
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    seen.add(line.strip()[2:].strip())
    return seen


def collect_rows() -> List[Dict[str, str]]:
    """Every usable raw message once: id, url, lang, intent, text (placeholders filled), source_file, split."""
    known, seen_texts = existing_examples(), set()
    rows: List[Dict[str, str]] = []
    for path in sorted(RAW.glob("*.tsv")):
        with path.open(encoding="utf-8") as handle:
            for n, row in enumerate(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)):
                url, intent = (row.get("url") or "").strip(), (row.get("intent") or "").strip()
                text = fill_placeholders((row.get("text") or "").strip(), f"{url}#{n}")
                if not url or not text or intent not in TRIAGE_CLASS or intent in NEVER_FREE_TEXT:
                    print(f"skipped {path.name}:{n + 2} ({intent!r})", file=sys.stderr)
                    continue
                if redact(text).text != text:
                    # docs/labelling.md drops messages with a secret; the channels would redact this one
                    # (e.g. a hash next to "priKey"), so the model would never see it as written.
                    print(f"skipped {path.name}:{n + 2} (the redactor reads a secret in it)", file=sys.stderr)
                    continue
                key = re.sub(r"\s+", " ", text.lower())
                if key in seen_texts or text in known:
                    continue
                seen_texts.add(key)
                rows.append({"id": f"{path.stem}-{n + 1:04d}", "url": url, "lang": row.get("lang", "").strip(),
                             "intent": intent, "text": text, "source_file": path.name,
                             "split": "heldout" if bucket(url) < HELDOUT_PERCENT else "train"})
    return rows


def main() -> None:
    rows = collect_rows()
    by_intent: Dict[str, List[str]] = defaultdict(list)
    for row in rows:
        if row["split"] == "train":
            by_intent[row["intent"]].append(row["text"])
    lines = ["version: \"3.1\"",
             "# Messages real wallet users wrote in public threads (generated by scripts/real_split.py).",
             "# Provenance of every example: data/real/sources.tsv (thread URL per message id).",
             "# Placeholders for hashes, addresses and links were filled with stand-in values.",
             "nlu:"]
    for intent in sorted(by_intent):
        lines += [f"- intent: {intent}", "  examples: |"]
        for text in by_intent[intent]:
            lines.append("    - " + text.replace("\n", " "))
    TRAIN_OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with HELDOUT_OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        writer.writerow(["id", "url", "lang", "intent", "triage", "text"])
        for row in rows:
            if row["split"] == "heldout":
                writer.writerow([row["id"], row["url"], row["lang"], row["intent"], TRIAGE_CLASS[row["intent"]],
                                 row["text"].replace("\n", " / ").replace("\t", " ")])
    with SOURCES_OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "split", "url", "lang", "intent", "source_file"])
        for row in rows:
            writer.writerow([row["id"], row["split"], row["url"], row["lang"], row["intent"], row["source_file"]])
    split = Counter(r["split"] for r in rows)
    zh = Counter(r["split"] for r in rows if r["lang"].startswith("zh"))
    print(f"{len(rows)} messages from {len({r['url'] for r in rows})} threads: "
          f"train {split['train']} (zh {zh['train']}), heldout {split['heldout']} (zh {zh['heldout']})")


if __name__ == "__main__":
    main()
