"""bench.nlu_cv's folds by repository: every thread of a repository falls in the same fold."""

from bench.nlu_cv import repository


def test_threads_of_one_github_repository_share_a_group():
    assert repository("https://github.com/spesmilo/electrum/issues/8123") == "spesmilo/electrum"
    assert repository("https://github.com/spesmilo/electrum/discussions/9") == "spesmilo/electrum"
    assert repository("https://github.com/bitpay/wallet/issues/1") != repository("https://github.com/bitpay/bitcore/issues/1")


def test_a_thread_elsewhere_is_grouped_by_its_host():
    assert repository("https://beta.ninjastic.space/post/123") == "beta.ninjastic.space"
    assert repository("not a url") == "not a url"


def test_folds_group_real_messages_by_thread_or_by_repository():
    import numpy as np

    from bench.nlu_cv import Example, fold_groups

    examples = [Example("a", "greet", "https://github.com/o/r/issues/1", "en"),
                Example("b", "greet", None, "en"),
                Example("c", "greet", "https://github.com/o/r/issues/2", "en")]
    real = np.asarray([0, 2])
    assert fold_groups(examples, real) == ["https://github.com/o/r/issues/1", "https://github.com/o/r/issues/2"]
    assert fold_groups(examples, real, by_repository=True) == ["o/r", "o/r"]
