#!/usr/bin/env bash
# Build the spaCy entity pipeline (nlu/spacy_build.py) into var/spacy/zh_wallet, only when
# it is missing or its inputs changed: data/lookups, the jieba user dictionary and the
# code that builds it are hashed into a stamp, as scripts/train.sh does for models.
# Rasa's SpacyNLP loads it from there at train and at run time (config.yml: model: var/spacy/zh_wallet).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
OUT=${SPACY_MODEL_DIR:-var/spacy/zh_wallet}
PY=.venv/bin/python

inputs_hash() {
  { find data/lookups data/jieba -type f \( -name '*.yml' -o -name '*.txt' \) -print0 | sort -z | xargs -0 sha256sum
    sha256sum nlu/entity_patterns.py nlu/spacy_build.py safety/text.py
    "$PY" -c 'import importlib.metadata as m; print(m.version("spacy"))'
  } | sha256sum | cut -c1-16
}

HASH=$(inputs_hash)
STAMP="$OUT.inputs"
if [[ -f "$OUT/config.cfg" && -f "$STAMP" && "$(cat "$STAMP")" == "$HASH" ]]; then
  echo "spacy: $OUT matches data/lookups; not rebuilding"
  exit 0
fi
echo "spacy: building $OUT"
"$PY" -m nlu.spacy_build --out "$OUT"
echo "$HASH" > "$STAMP"
