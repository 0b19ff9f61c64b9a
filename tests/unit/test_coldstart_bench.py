"""bench.coldstart_bench: its "cold" training reuses no cache, the training texts' embeddings included."""

import yaml

from bench.coldstart_bench import PROJECT_ROOT, cold_config


def test_the_cold_config_keeps_the_pipeline_but_moves_the_embedding_cache(tmp_path):
    project = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    cold = yaml.safe_load(cold_config(tmp_path).read_text(encoding="utf-8"))
    moved = [c for c in cold["pipeline"] if "training_cache" in c]
    assert moved and all(c["training_cache"] == str(tmp_path / "sentence-embeddings.sqlite") for c in moved)
    strip = [{k: v for k, v in c.items() if k != "training_cache"} for c in cold["pipeline"]]
    assert strip == [{k: v for k, v in c.items() if k != "training_cache"} for c in project["pipeline"]]
    assert {k: v for k, v in cold.items() if k != "pipeline"} == {k: v for k, v in project.items() if k != "pipeline"}
