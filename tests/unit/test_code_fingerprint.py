"""nlu.code_fingerprint: a change to the project's NLU code changes Rasa's cache key of every component we train."""

import importlib

import pytest
import yaml
from rasa.engine.training import fingerprinting

from nlu import code_fingerprint as code
from nlu.code_fingerprint import PROJECT_ROOT


def _our_trainable_components():
    """(class, config) of each component in config.yml that is ours and that Rasa trains (and so caches)."""
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    found = []
    for item in yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]:
        name = item["name"]
        if "." not in name:
            continue  # Rasa's own classes: their code is pinned by the Rasa version
        module, _, cls_name = name.rpartition(".")
        cls = getattr(importlib.import_module(module), cls_name)
        if DefaultV1Recipe._from_registry(name).is_trainable:
            config = {**cls.get_default_config(), **{k: v for k, v in item.items() if k != "name"}}
            found.append((cls, config))
    return found


def test_the_fingerprint_covers_the_nlu_and_safety_code(tmp_path, monkeypatch):
    (tmp_path / "nlu").mkdir()
    (tmp_path / "safety").mkdir()
    (tmp_path / "nlu" / "helper.py").write_text("def f():\n    return 1\n")
    (tmp_path / "safety" / "text.py").write_text("RULES = []\n")
    monkeypatch.setattr(code, "PROJECT_ROOT", tmp_path)
    code.code_fingerprint.cache_clear()
    try:
        before = code.code_fingerprint()
        (tmp_path / "nlu" / "helper.py").write_text("def f():\n    return 2\n")
        code.code_fingerprint.cache_clear()
        after_nlu = code.code_fingerprint()
        (tmp_path / "safety" / "text.py").write_text("RULES = ['x']\n")
        code.code_fingerprint.cache_clear()
        after_safety = code.code_fingerprint()
        (tmp_path / "README.md").write_text("not code\n")
        code.code_fingerprint.cache_clear()
        assert len({before, after_nlu, after_safety}) == 3 and code.code_fingerprint() == after_safety
    finally:
        code.code_fingerprint.cache_clear()


def test_every_component_we_train_gets_a_new_cache_key_when_the_code_changes(monkeypatch):
    components = _our_trainable_components()
    names = {cls.__name__ for cls, _ in components}
    assert {"WalletJiebaTokenizer", "SentenceRegexFeaturizer", "SentenceCountVectorsFeaturizer",
            "NormalizedLogisticRegressionClassifier"} <= names
    for cls, config in components:
        monkeypatch.setattr(code, "code_fingerprint", lambda: "code-1")
        before = fingerprinting.calculate_fingerprint_key(cls, config, {})
        same = fingerprinting.calculate_fingerprint_key(cls, config, {})
        monkeypatch.setattr(code, "code_fingerprint", lambda: "code-2")
        after = fingerprinting.calculate_fingerprint_key(cls, config, {})
        assert before == same != after, cls.__name__


@pytest.mark.parametrize("addon", [None, "dictionary-digest"])
def test_a_components_own_addon_is_kept(addon, monkeypatch):
    monkeypatch.setattr(code, "code_fingerprint", lambda: "code")
    assert code.with_code(addon) == ("code" if addon is None else "dictionary-digest:code")
