"""bench.nlu_bench: a comparison model is retrained when what it is trained from changes, and only then."""

import yaml

from bench.nlu_bench import PROJECT_ROOT, model_key, pipeline_sources, variant_config


def test_the_diet_comparison_model_is_keyed_on_the_code_its_pipeline_runs():
    sources = {str(p.relative_to(PROJECT_ROOT)) for p in pipeline_sources(variant_config())}
    # What its tokenizer, normaliser, entity canonicaliser, theft guard and fallback run, safety's text rules included.
    assert {"nlu/components.py", "nlu/entity_patterns.py", "nlu/fallback.py", "nlu/triage.py",
            "safety/text.py"} <= sources
    # The project's own classifier and featurizers are not in its pipeline (DIET and Rasa's featurizers are).
    assert not {"nlu/classifiers.py", "nlu/featurizers.py", "nlu/sentence_encoder.py"} & sources


def _project(root):
    (root / "data").mkdir()
    (root / "data/nlu.yml").write_text("version: '3.1'\n")
    (root / "pkg").mkdir()
    (root / "pkg/__init__.py").write_text("")
    (root / "pkg/comp.py").write_text("import json\nfrom pkg.helper import rule\n\nclass Comp:\n    pass\n")
    (root / "pkg/helper.py").write_text("def rule():\n    return 1\n")
    (root / "pkg/unrelated.py").write_text("X = 1\n")
    (root / "dictionary").mkdir()
    (root / "dictionary/words.txt").write_text("钱包\n")
    return yaml.safe_dump({"pipeline": [{"name": "pkg.comp.Comp", "dictionary_path": "dictionary"},
                                        {"name": "DIETClassifier", "epochs": 1}]})


def test_the_key_follows_the_imported_code_the_loaded_files_and_the_data_only(tmp_path):
    config = _project(tmp_path)
    key = model_key(config, tmp_path)
    (tmp_path / "pkg/unrelated.py").write_text("X = 2\n")
    assert model_key(config, tmp_path) == key
    for path, text in (("pkg/helper.py", "def rule():\n    return 2\n"), ("dictionary/words.txt", "钱包\n助记词\n"),
                       ("data/nlu.yml", "version: '3.1'\nnlu: []\n"), ("pkg/comp.py", "from pkg.helper import rule\n")):
        (tmp_path / path).write_text(text)
        assert model_key(config, tmp_path) != key, path
        key = model_key(config, tmp_path)
    assert model_key(config.replace("epochs: 1", "epochs: 2"), tmp_path) != key


def test_notes_on_the_data_do_not_retrain_the_comparison_models(tmp_path):
    """A README under data/ is documentation: editing it once retrained the DIET variant (half an hour)."""
    config = _project(tmp_path)
    key = model_key(config, tmp_path)
    (tmp_path / "data/README.md").write_text("# Where the messages come from\n")
    assert model_key(config, tmp_path) == key
    (tmp_path / "data/raw.tsv").write_text("url\tlang\tintent\ttext\n")
    assert model_key(config, tmp_path) != key


def test_a_loaded_file_behind_a_symlink_out_of_the_project_is_keyed(tmp_path):
    """A shared var/ (a symlink to another checkout's) holds the spaCy model: its files still count."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    (elsewhere / "model").mkdir(parents=True)
    (elsewhere / "model/weights.bin").write_bytes(b"1")
    (project / "data").mkdir()
    (project / "var").symlink_to(elsewhere)
    config = yaml.safe_dump({"pipeline": [{"name": "SpacyNLP", "model": "var/model"}]})
    key = model_key(config, project)
    (elsewhere / "model/weights.bin").write_bytes(b"2")
    assert model_key(config, project) != key
