#!/usr/bin/env bash
# Train a model only when none matches the current data, domain, config and NLU code.
#
# `rasa train --dry-run` is not enough: it ignores changes that need no component
# retraining (a FallbackClassifier threshold, a response text), yet the packaged
# model carries both. So the model is stamped with a hash of everything that goes
# into it; Rasa's own cache (.rasa/) keeps a retrain cheap when little changed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
# The spaCy entity pipeline SpacyNLP loads (config.yml); rebuilt only when its inputs change.
bash scripts/spacy.sh
# The pretrained English sentence encoder EnglishSentenceFeaturizer loads (config.yml); unpacked once.
bash scripts/sentence_model.sh
RASA=.venv/bin/rasa
PROJECT=(--domain domain --data data --config config.yml --out models)

inputs_hash() {
  { find config.yml domain data nlu safety -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.txt' -o -name '*.py' \) \
    -not -path '*/__pycache__/*' -print0; printf '%s\0' var/spacy/zh_wallet.inputs var/sentence/all-minilm-l6-v2/.sha256; } \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
}

HASH=$(inputs_hash)
STAMP="models/.inputs-$HASH"
latest=$(ls -t models/*.tar.gz 2>/dev/null | head -1 || true)
if [[ -n "$latest" && -f "$STAMP" && "$(cat "$STAMP")" == "$(basename "$latest")" ]]; then
  echo "train: the latest model in models/ matches the data; not retraining"
  exit 0
fi
echo "train: training a model (about 3 minutes on 2 cores)"
start=$(date +%s)
# --skip-validation: `rasa data validate` runs in the test suite (tests/test_data.py) and `make
# validate`; repeating it here cost 6 s of the 3-minute training budget.
"$RASA" train "${PROJECT[@]}" --skip-validation
latest=$(ls -t models/*.tar.gz | head -1)
rm -f models/.inputs-*
basename "$latest" > "$STAMP"
echo "train: done in $(( $(date +%s) - start )) s"
