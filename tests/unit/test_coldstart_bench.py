"""bench.coldstart_bench: its "cold" training reuses no cache, the training texts' embeddings included."""

import re

import yaml

from bench import coldstart_bench
from bench.coldstart_bench import PROJECT_ROOT, TRAIN_FLAGS, cold_config


def test_the_cold_config_keeps_the_pipeline_but_moves_the_embedding_cache(tmp_path):
    project = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    cold = yaml.safe_load(cold_config(tmp_path).read_text(encoding="utf-8"))
    moved = [c for c in cold["pipeline"] if "training_cache" in c]
    assert moved and all(c["training_cache"] == str(tmp_path / "sentence-embeddings.sqlite") for c in moved)
    strip = [{k: v for k, v in c.items() if k != "training_cache"} for c in cold["pipeline"]]
    assert strip == [{k: v for k, v in c.items() if k != "training_cache"} for c in project["pipeline"]]
    assert {k: v for k, v in cold.items() if k != "pipeline"} == {k: v for k, v in project.items() if k != "pipeline"}


def test_the_benchmark_trains_as_make_train_does(tmp_path, monkeypatch):
    """The timed command carries the flags scripts/train.sh gives ``rasa train``: the figure is make train's."""
    script = (PROJECT_ROOT / "scripts/train.sh").read_text(encoding="utf-8")
    call = next(line for line in script.splitlines() if re.match(r'\s*"\$RASA" train ', line))
    flags = [word for word in call.split() if word.startswith("--")]
    assert flags and flags == TRAIN_FLAGS
    commands = []
    monkeypatch.setattr(coldstart_bench.subprocess, "run", lambda command, **kwargs: commands.append(command))
    coldstart_bench.training_seconds(tmp_path)
    assert commands and commands[0][:4] == [coldstart_bench.sys.executable, "-m", "rasa", "train"]
    assert commands[0][-len(TRAIN_FLAGS):] == TRAIN_FLAGS
