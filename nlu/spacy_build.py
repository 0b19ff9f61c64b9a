"""Build the project's spaCy pipeline for entities: ``python -m nlu.spacy_build --out DIR``.

A blank ``zh`` pipeline (jieba segmenter, no trained weights, nothing downloaded) with
the components of ``nlu.entity_patterns``: the project's jieba user dictionary, the
token repair step and an ``EntityRuler`` whose patterns come from data/lookups and the
exchange/wallet tables. Deterministic: the same inputs give the same files.

Rasa loads it with ``SpacyNLP`` (``model: DIR``) and extracts with
``SpacyEntityExtractor``; ``spacy.load(DIR)`` works once ``nlu.entity_patterns`` is
imported (it registers the factories).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

import spacy
from spacy.language import Language

from nlu import entity_patterns as ep

ROOT = Path(__file__).resolve().parent.parent
LOOKUPS = ROOT / "data" / "lookups"
USERDICT = ROOT / "data" / "jieba" / "userdict.txt"
NAME = "zh_wallet"
VERSION = "1.0.0"


def build(lookups_dir: Path = LOOKUPS, userdict: Optional[Path] = USERDICT) -> Language:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.meta.update(
        {
            "name": NAME,
            "version": VERSION,
            "description": "Wallet-support entities (chain, token, amount, exchange, wallet, "
            "tx_hash, address) by token patterns on jieba segmentation. "
            "Needs `import nlu.entity_patterns` before spacy.load.",
            "author": "wallet-support-triage",
            "license": "proprietary",
        }
    )
    jieba_dict = nlp.add_pipe("wallet_jieba_userdict")
    if userdict is not None and Path(userdict).exists():
        jieba_dict.set_text(Path(userdict).read_text(encoding="utf-8"))
    vocab = ep.full_vocabulary(lookups_dir)
    resegment = nlp.add_pipe("wallet_resegment")
    terms = [spelling for _entity, spelling, _canonical in ep._dedupe_spellings(vocab)]
    resegment.set_vocabulary(terms, ep.units_for(vocab))
    ruler = nlp.add_pipe("entity_ruler", config={"validate": True, "overwrite_ents": True})
    ruler.add_patterns(ep.build_patterns(vocab))
    return nlp


def save(nlp: Language, out: Path) -> None:
    """Write to a temporary sibling, then swap it in: a reader never sees half a model."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        nlp.to_disk(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="directory to write the pipeline to")
    parser.add_argument("--lookups", type=Path, default=LOOKUPS)
    parser.add_argument("--userdict", type=Path, default=USERDICT)
    args = parser.parse_args(argv)
    nlp = build(args.lookups, args.userdict)
    save(nlp, args.out)
    patterns = len(nlp.get_pipe("entity_ruler").patterns)
    print(f"spacy_build: wrote {args.out} ({patterns} patterns, pipes {nlp.pipe_names})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
