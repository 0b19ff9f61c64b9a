"""Every change this project makes to Rasa's internals, installed through one function.

Rasa 3.6 offers no hook for these, so they are applied to the loaded agent and to
Rasa's classes once the server has started (the action gateway's
``after_server_start`` listener calls :func:`install`). Read this list to know
what differs from stock Rasa in this process:

1. ``RemoteAction._validate_action_result`` uses a compiled validator and
   ``Event.resolve_by_type`` a table of event types (``hot_path``): stock Rasa
   re-checked the schema on every action answer and walked every ``Event``
   subclass for every event it read.
2. The agent's ``FailSafeTrackerStore`` is replaced by ``StrictTrackerStore``
   (``tracker_guard``): a failing store is reported, never swapped for memory.
3. The agent's action endpoint is answered by the gateway in this process
   (``action_gateway.InProcessActionEndpoint``): no HTTP hop to ourselves.
4. ``rasa.server._load_agent`` (``PUT /model``) re-applies 2 and 3 to the new agent:
   stock Rasa builds a new Agent, and the instance patches would be silently gone.
5. ``MessageProcessor.parse_message`` triages long messages clause by clause
   (``nlu.triage``; the clauses in one run of the NLU graph, ``parse_with_graph``)
   and gates answer intents by the dialogue state (``nlu.gating``): both need
   the tracker, which NLU components never see.
   The text-only part (Rasa's parse and the triage) is kept per model by text
   (``parse_cache``, off with ``RASA_OPTIMISATIONS=off``); gating runs every time.
6. ``MessageProcessor._predict_next_with_tracker`` keeps the policies' predictions
   per model by dialogue state (``prediction_cache``, off with ``RASA_OPTIMISATIONS=off``).

Beside them, not a Rasa internal: every log record of the process passes ``safety.log_masks``, which
hides what may be the first part of a seed phrase pasted in parts (Rasa logs message text at DEBUG).

Each step is idempotent, so calling :func:`install` again (for example after a
model reload built a new agent) is safe.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Text

import rasa.core.processor as rasa_processor
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT

from nlu import gating, triage
from rasa_server import hot_path, parse_cache, prediction_cache, tracker_guard
from safety import log_masks
from settings import get_settings

_stock_parse_message = MessageProcessor.parse_message


async def parse_message(self: MessageProcessor, message: UserMessage,
                        tracker: Optional[DialogueStateTracker] = None,
                        only_output_properties: bool = True) -> Dict[Text, Any]:
    """Rasa's parse, then clause triage and dialogue-state gating (the same for every caller).

    Rasa's parse and the triage depend on the text and the model only: with the
    optimisations on they are kept per model by text (``parse_cache``); gating,
    which reads the conversation, runs on every message.
    """
    if self.http_interpreter is not None:
        return gating.gate(await _stock_parse_message(self, message, tracker, only_output_properties), tracker)
    cache = parse_cache.for_processor(self, get_settings().performance.parse_cache_entries)
    key = (message.text, only_output_properties)
    parse = cache.get(key) if cache is not None and cache.cacheable(message.text) else None
    if parse is None:
        parse = await _text_parse(self, message, tracker, only_output_properties)
        if cache is not None:
            cache.put(key, message.text, parse)
    return gating.gate(parse, tracker)


async def _text_parse(self: MessageProcessor, message: UserMessage, tracker: Optional[DialogueStateTracker],
                      only_output_properties: bool) -> Dict[Text, Any]:
    """Rasa's parse and the clause triage: what the message's text and the model alone decide.

    A message of several clauses goes through the NLU graph once with its clauses (the
    encoder packs them all into one pass); Rasa's own parse takes the rest.
    """
    clauses = triage.clauses_to_parse(message.text or "")
    if not clauses:
        return await _stock_parse_message(self, message, tracker, only_output_properties)
    context = tracker or DialogueStateTracker.from_events(message.sender_id or "triage", [])

    def as_messages(texts: List[str]) -> List[UserMessage]:
        return [UserMessage(text, sender_id=message.sender_id, input_channel=message.input_channel) for text in texts]

    def parse_clauses(texts: List[str]) -> List[Dict[Text, Any]]:
        return parse_with_graph(self, as_messages(texts), context, only_output_properties)

    whole, *parsed = parse_with_graph(self, [message] + as_messages([clause for _offset, clause in clauses]),
                                      context, only_output_properties)
    _as_rasa_parse_finishes(self, whole)
    return triage.triage_clauses(whole, clauses, parsed, parse_clauses)


def _as_rasa_parse_finishes(processor: MessageProcessor, parse: Dict[Text, Any]) -> None:
    """What ``MessageProcessor.parse_message`` does after its graph run (Rasa 3.6), for a parse made here."""
    processor._update_full_retrieval_intent(parse)
    rasa_processor.structlogger.debug("processor.message.parse", parse_data_text=copy.deepcopy(parse["text"]),
                                      parse_data_intent=parse["intent"],
                                      parse_data_entities=copy.deepcopy(parse["entities"]))
    processor._check_for_unseen_features(parse)


def parse_with_graph(processor: MessageProcessor, messages: List[UserMessage], tracker: DialogueStateTracker,
                     only_output_properties: bool = True) -> List[Dict[Text, Any]]:
    """Rasa's ``_parse_message_with_graph`` for several messages in one run of the NLU graph.

    A long message's clauses go through the pipeline together: one graph run instead of one per
    clause, and the sentence encoder packs their texts into one pass (``EnglishSentenceFeaturizer``).
    Each parse is built as Rasa builds it.
    """
    if not messages:
        return []
    results = processor.graph_runner.run(inputs={PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: tracker},
                                         targets=[processor.model_metadata.nlu_target])
    parses = []
    for parsed in results[processor.model_metadata.nlu_target]:
        parse: Dict[Text, Any] = {TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, ENTITIES: []}
        parse.update(parsed.as_dict(only_output_properties=only_output_properties))
        parses.append(parse)
    return parses


_stock_predict_next_with_tracker = MessageProcessor._predict_next_with_tracker


def predict_next_with_tracker(self: MessageProcessor, tracker: DialogueStateTracker) -> Any:
    """The policies' prediction, kept per model by dialogue state (``prediction_cache``)."""
    cache = prediction_cache.for_processor(self, get_settings().performance.prediction_cache_entries)
    if cache is None or tracker.followup_action:
        return _stock_predict_next_with_tracker(self, tracker)
    key = prediction_cache.state_key(tracker)
    prediction = cache.get(key)
    if prediction is None:
        prediction = _stock_predict_next_with_tracker(self, tracker)
        cache.keep(key, prediction)
    return prediction


def install_predict() -> None:
    """The prediction cache (patch 6)."""
    MessageProcessor._predict_next_with_tracker = predict_next_with_tracker  # type: ignore[assignment]


def install_parse() -> None:
    """Only the parse (patch 4): what the NLU benchmarks need to score what users get."""
    MessageProcessor.parse_message = parse_message  # type: ignore[assignment]


def _patch_agent(agent: Any, gateway: Optional[Any]) -> None:
    tracker_guard.install(agent)
    if gateway is not None:
        from rasa_server.action_gateway import route_actions_in_process

        route_actions_in_process(agent, gateway)


def _reapply_on_model_load(gateway: Optional[Any]) -> None:
    """Wrap Rasa's model loader (``PUT /model``) so a reloaded agent is patched like the first."""
    import rasa.server

    loader = rasa.server._load_agent
    original = getattr(loader, "__wrapped__", loader)

    async def load_agent_patched(*args: Any, **kwargs: Any) -> Any:
        agent = await original(*args, **kwargs)
        _patch_agent(agent, gateway)
        return agent

    load_agent_patched.__wrapped__ = original  # type: ignore[attr-defined]
    rasa.server._load_agent = load_agent_patched


def install(agent: Any, gateway: Optional[Any] = None) -> None:
    """Apply every patch to this process and ``agent`` (idempotent)."""
    log_masks.install()
    hot_path.install()
    install_parse()
    install_predict()
    _patch_agent(agent, gateway)
    _reapply_on_model_load(gateway)
