"""bench.fit_bench: it fits the classifier's own problem, and its report says whether the fits agree."""

import numpy as np
import scipy.sparse as sp

from bench.fit_bench import write
from bench.nlu_cv import Setting, normalizer
from nlu.classifiers import NormalizedLogisticRegressionClassifier


def test_the_benchmark_matrix_is_the_classifiers(monkeypatch):
    rng = np.random.RandomState(0)
    sparse = sp.random(40, 30, density=0.2, format="csr", random_state=1)
    sparse.data = np.ceil(sparse.data * 3)  # counts
    dense = rng.rand(40, 8)
    classifier = NormalizedLogisticRegressionClassifier(
        {**NormalizedLogisticRegressionClassifier.get_default_config(), "min_df": Setting().min_df}, "c", None, None)
    monkeypatch.setattr(NormalizedLogisticRegressionClassifier, "_raw_features",
                        staticmethod(lambda messages: ([sparse[i] for i in range(40)], [dense[i:i + 1] for i in range(40)])))
    theirs = classifier._matrix(list(range(40)), fit=True)
    raw = sp.hstack([sparse, sp.csr_matrix(dense)]).tocsr()
    ours = normalizer(Setting(), raw, dense_width=8)(raw)
    assert theirs.shape == ours.shape and abs(theirs - ours).max() < 1e-12


def test_the_report_says_when_the_coefficients_differ(tmp_path):
    result = {"model": "m.tar.gz", "examples": 10, "columns": 5, "non-zeros": 20, "intents": 3, "cores": 2,
              "fits": {"scipy": {"seconds": 2.0, "iterations": 7}, "row_split": {"seconds": 1.0, "iterations": 7}},
              "coefficients bit-identical": False}
    text = write(result, tmp_path / "fit")
    assert "bit-identical: **NO**" in text and "| wall s | 2.0 | 1.0 |" in text
    assert (tmp_path / "fit.json").exists()
