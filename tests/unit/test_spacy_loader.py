"""nlu.spacy_loader: Rasa's SpacyNLP without the spaCy pass over the training data, still wired to the extractors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

spacy = pytest.importorskip("spacy")

from rasa.nlu.constants import SPACY_DOCS  # noqa: E402
from rasa.shared.nlu.constants import INTENT, TEXT  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from nlu import spacy_build  # noqa: E402
from nlu.spacy_loader import SpacyNLP  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def loader(tmp_path_factory):
    out = tmp_path_factory.mktemp("spacy") / "zh_wallet"
    spacy_build.save(spacy_build.build(), out)
    config = {**SpacyNLP.get_default_config(), "model": str(out)}
    return SpacyNLP(SpacyNLP.load_model(str(out)), config), SpacyNLP.load_model(str(out))


def test_training_data_is_not_parsed_but_messages_are(loader):
    nlp, model = loader
    data = TrainingData([Message(data={TEXT: "TRC20 USDT转账一直没到账", INTENT: "deposit_not_received"})])
    nlp.process_training_data(data, model)
    assert data.training_examples[0].get(SPACY_DOCS[TEXT]) is None
    message = Message(data={TEXT: "TRC20 USDT转账一直没到账"})
    nlp.process([message], model)
    assert [t.text for t in message.get(SPACY_DOCS[TEXT])][:2] == ["trc20", "usdt"]  # case_sensitive: false


WIRING = """
import json
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils import spacy_utils
from rasa.shared.utils.io import read_config_file
graph = DefaultV1Recipe().graph_config_for_recipe(read_config_file("config.yml"), {})
nodes = graph.predict_schema.nodes
provider = next(n for n, node in nodes.items() if n.startswith("provide_") and issubclass(node.uses, spacy_utils.SpacyNLP))
print(json.dumps({
    "provider": nodes[provider].uses.__module__ + "." + nodes[provider].uses.__name__,
    "wired": sorted(node.uses.__name__ for node in nodes.values() if node.needs.get("model") == provider),
    "trained": sorted(node.fn for node in graph.train_schema.nodes.values() if node.uses is nodes[provider].uses),
}))
"""


def test_the_config_wires_the_extractors_to_this_loader():
    """In a fresh interpreter (importing this module here would register the class for every config)."""
    out = subprocess.run([sys.executable, "-c", WIRING], cwd=PROJECT, capture_output=True, text=True, check=True)
    wiring = json.loads(out.stdout.strip().splitlines()[-1])
    assert wiring["provider"] == "nlu.spacy_loader.SpacyNLP"
    assert {"SpacyEntityExtractor", "EntityValueCanonicalizer"} <= set(wiring["wired"])
    assert "process_training_data" in wiring["trained"]
