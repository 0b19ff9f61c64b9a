"""nlu.row_split: the classifier's sparse products on row blocks side by side, with SciPy's results exactly."""

import os
import signal
import time

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from nlu import row_split
from nlu.row_split import RowSplitCSR, row_blocks


def _matrix(rows=301, columns=517, density=0.05, dtype=np.float32, seed=0):
    matrix = sp.random(rows, columns, density=density, format="csr", dtype=dtype, random_state=seed)
    matrix = sp.csr_matrix(matrix)
    matrix.data[matrix.indptr[7]:matrix.indptr[8]] = 0  # an empty row
    matrix.eliminate_zeros()
    return matrix


@pytest.fixture(params=[1, 2, 3])
def parts(request, monkeypatch):
    """Results must not depend on how many cores cut the rows."""
    monkeypatch.setattr(row_split, "cores", lambda: request.param)
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_are_scipys_bit_for_bit(parts, dtype):
    plain = _matrix(dtype=dtype)
    split = RowSplitCSR(plain)
    rng = np.random.RandomState(1)
    right = rng.rand(plain.shape[1], 30).astype(dtype)
    left = rng.rand(30, plain.shape[0]).astype(dtype)
    vector, left_vector = rng.rand(plain.shape[1]), rng.rand(plain.shape[0])

    assert np.array_equal(split @ right, plain @ right)
    assert np.array_equal(split @ np.asfortranarray(right), plain @ right)
    assert np.array_equal(left @ split, left @ plain)
    assert np.array_equal(right.T @ RowSplitCSR(plain.T.tocsr()), right.T @ plain.T.tocsr())
    assert np.array_equal(split @ vector, plain @ vector)
    assert np.array_equal(left_vector @ split, left_vector @ plain)
    # The solver's own layouts: a transposed view (F-ordered) on the right, a C-ordered product on the left.
    coefficients = rng.rand(30, plain.shape[1]).astype(dtype)
    assert np.array_equal(split @ coefficients.T, plain @ coefficients.T)


def test_other_operands_are_left_to_scipy(parts):
    plain = _matrix()
    split = RowSplitCSR(plain)
    other = _matrix(plain.shape[1], 11, seed=2)
    assert (split @ other != plain @ other).nnz == 0
    assert np.array_equal((split @ np.asmatrix(np.ones((plain.shape[1], 1)))), plain @ np.ones((plain.shape[1], 1)))
    with pytest.raises(ValueError):
        split @ np.ones((plain.shape[1] + 1, 3))
    with pytest.raises(ValueError):
        np.ones((3, plain.shape[0] + 1)) @ split


def test_row_blocks_cover_every_row_once():
    matrix = _matrix()
    for parts in (1, 2, 3, 7, matrix.shape[0], matrix.shape[0] + 5):
        blocks = row_blocks(matrix, parts)
        assert (sp.vstack(blocks) != matrix).nnz == 0
        assert len(blocks) <= max(1, min(parts, matrix.shape[0]))


def test_a_logistic_regression_fit_gives_the_same_coefficients(parts):
    """As the classifier fits it (multinomial, newton-cg, balanced classes, single precision)."""
    rng = np.random.RandomState(3)
    X = _matrix(400, 900, density=0.03)
    labels = rng.randint(0, 7, X.shape[0])
    X = sp.csr_matrix(X + sp.csr_matrix((np.ones(400, dtype=np.float32), (np.arange(400), labels * 5)),
                                        shape=X.shape))

    def fit(matrix):
        return LogisticRegression(C=1000, class_weight="balanced", solver="newton-cg", tol=0.04,
                                  max_iter=1000, random_state=42).fit(matrix, labels)

    plain, split = fit(X), fit(RowSplitCSR(X))
    assert np.array_equal(plain.coef_, split.coef_) and np.array_equal(plain.intercept_, split.intercept_)
    assert np.array_equal(plain.predict_proba(X), split.predict_proba(X))


def test_a_forked_child_gets_a_pool_of_its_own():
    """The parent's pool threads do not exist in a child: reusing that pool would wait forever."""
    X = _matrix()
    RowSplitCSR(X) @ np.ones((X.shape[1], 2))  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the product runs and is right
        ok = False
        try:
            ok = np.array_equal(RowSplitCSR(X) @ np.ones((X.shape[1], 2)), X @ np.ones((X.shape[1], 2)))
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child's product never finished")
        time.sleep(0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
    assert os.waitstatus_to_exitcode(status) == 0
