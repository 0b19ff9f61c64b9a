"""Classifier-fit benchmark: the intent classifier's logistic regression on this project's training data,
fitted with SciPy's own sparse products and with ``nlu.row_split`` (one row block per core).

The same matrix, labels and settings (config.yml's: C, tol, min_df, balanced classes, single
precision) for both; the fit's wall time and Newton iterations, and whether the coefficients are
equal bit for bit. Features come from the latest model (``bench.nlu_cv.training_features``, kept
in ``var/``). Writes ``results/fit.md`` (and ``.json``). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np

from bench.nlu_bench import latest_model
from bench.nlu_cv import Setting, new_model, normalizer, training_examples, training_features
from bench.report import PROJECT_ROOT, metric_table, write_result
from nlu.row_split import RowSplitCSR, cores


def timed_fit(matrix: Any, labels: np.ndarray) -> Dict[str, Any]:
    model = new_model(Setting())
    started = time.monotonic()
    model.fit(matrix, labels)
    return {"seconds": round(time.monotonic() - started, 1), "iterations": int(model.n_iter_.max()), "model": model}


def run(model_path: Path) -> Dict[str, Any]:
    examples = training_examples()
    X, dense_width = training_features(model_path, examples)
    labels = np.asarray([e.intent for e in examples])
    matrix = normalizer(Setting(), X, dense_width)(X).astype(np.float32)
    plain = timed_fit(matrix, labels)
    split = timed_fit(RowSplitCSR(matrix), labels)
    same = (np.array_equal(plain["model"].coef_, split["model"].coef_)
            and np.array_equal(plain["model"].intercept_, split["model"].intercept_))
    shape = {"model": model_path.name, "examples": matrix.shape[0], "columns": matrix.shape[1],
             "non-zeros": int(matrix.nnz), "intents": len(set(labels)), "cores": cores()}
    fits = {name: {k: v for k, v in fit.items() if k != "model"} for name, fit in (("scipy", plain), ("row_split", split))}
    return {**shape, "fits": fits, "coefficients bit-identical": bool(same)}


def write(result: Dict[str, Any], out: Path) -> str:
    rows = [{"fit": name, "wall s": fit["seconds"], "Newton iterations": fit["iterations"]}
            for name, fit in result["fits"].items()]
    lines = [f"{result['examples']} training examples × {result['columns']} columns ({result['non-zeros']} non-zeros), "
             f"{result['intents']} intents, model `{result['model']}`, {result['cores']} cores. "
             f"Coefficients bit-identical: **{'yes' if result['coefficients bit-identical'] else 'NO'}**.", "",
             *metric_table([r["fit"] for r in rows], rows, skip=["fit"])]
    return write_result(out, "Classifier fit", __doc__.split("\n\n")[0].replace("\n", " "), lines, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/fit")
    args = parser.parse_args()
    print(write(run(args.model or latest_model()), args.out))


if __name__ == "__main__":
    main()
