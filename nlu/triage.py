"""Long-message triage: split a message into clauses and let the most urgent problem decide.

Real support messages run several sentences: a greeting, context, venting, then
the problem. Classified as one bag of words, the signal in sentence three is
drowned. :func:`segment` cuts a message at sentence punctuation (Chinese and
English) and line breaks; :func:`decide` takes the whole-message parse and one
parse per clause and returns the parse of the most urgent confident problem:
theft and exposed secrets, then funds in transit, then app trouble, then how-to
questions, then chit-chat. Entities of every clause are kept (offsets into the
whole message), and the runner-up problem is kept under ``triage`` so the reply
can offer it as a button.

Pure functions over parse dictionaries: the Rasa process calls them from
``rasa_server.patches`` (:func:`clauses_to_parse`, then :func:`triage_clauses` on the parses of
one graph run), the NLU benchmark through :func:`triage_parse`.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

# Each fine intent's triage class (docs/labelling.md shows the same table).
TRIAGE_CLASS: Dict[str, str] = {
    "suspected_theft": "theft", "secret_exposed": "theft",
    "stuck_transaction": "transaction", "failed_transaction": "transaction",
    "deposit_not_received": "transaction", "cross_chain": "transaction",
    "app_connectivity": "app", "dapp_connection": "app", "official_download": "app",
    "create_wallet": "wallet_setup", "import_wallet": "wallet_setup",
    "backup_mnemonic": "wallet_setup", "forgot_password": "wallet_setup",
    "gas_fee": "other_faq", "add_custom_token": "other_faq", "token_approval": "other_faq",
    "supported_chains": "other_faq", "scam_report": "other_faq", "request_human": "other_faq",
    "ticket_status": "other_faq", "greet": "other_faq", "goodbye": "other_faq", "thanks": "other_faq",
    "bot_challenge": "other_faq", "affirm": "other_faq", "deny": "other_faq", "give_rating": "other_faq",
    "cancel_handoff": "other_faq", "incident_subscribe": "other_faq",
    "out_of_scope": "out_of_scope", "nlu_fallback": "out_of_scope",
}

# Intents that are answers to the bot's own question: they count only when it asked (nlu/gating.py).
ANSWER_INTENTS = frozenset({"give_rating", "affirm", "deny", "cancel_handoff", "incident_subscribe"})

# Lower is more urgent. How-to questions (wallet setup and the other FAQ topics) share a rank.
# The class whose messages are answered first and from less certainty (nlu/fallback.py).
THEFT_CLASS = "theft"
_CLASS_URGENCY = {"theft": 0, "transaction": 1, "app": 2, "wallet_setup": 3, "other_faq": 3, "out_of_scope": 5}
_CHIT_CHAT = frozenset({"greet", "goodbye", "thanks", "bot_challenge", "affirm", "deny"})
FALLBACK = "nlu_fallback"

# A clause must be this sure to override the whole message's prediction. Grouped cross-validation
# on the training threads (bench/nlu_cv.py --clauses --clause-confidence, results/nlu_cv.md), rounds
# 9-10 data: against the whole message alone, 0.9 cost 2.0 points of triage and 10.2 of theft
# precision for 1.8 of theft recall; 0.98 costs 0.7 and 4.5 for 0.8. (Earlier, without the sentence
# encoder, 0.6 let clauses of off-topic messages take them over.)
CLAUSE_CONFIDENCE = 0.98
# Offering a clause's problem as the reply's second button costs the user nothing if it is wrong,
# so a clause needs less certainty for that than to decide the answer (the earlier bar, 0.9).
SECOND_PROBLEM_CONFIDENCE = 0.9
# The bot declines a message only when it is this sure that it is off-topic (nlu/gating.py). Such a
# message keeps that decision unless a clause reports theft: clauses of developer questions and
# price talk read like wallet problems ("the transfer failed" in an API question). Grouped
# cross-validation on the training threads (bench/nlu_cv.py --clauses): out-of-scope handled up,
# triage not down (results/nlu_cv.md).
OUT_OF_SCOPE = "out_of_scope"
OUT_OF_SCOPE_THRESHOLD = 0.85
# Shorter pieces ("你好", "thx") are glued to the next clause: alone they carry no problem.
MIN_CLAUSE_CHARS = 6
MAX_CLAUSES = 6

_BOUNDARY = re.compile(r"(?<=[。！？!?；;…])(?![。！？!?；;…])|\n+|(?<=[.])\s+(?=[A-Za-z\u4e00-\u9fff])|\s+/\s+")


def urgency(intent: Optional[str]) -> int:
    """Rank of an intent's problem: 0 theft … 4 chit-chat, 5 out of scope or unknown."""
    if intent in _CHIT_CHAT:
        return 4
    return _CLASS_URGENCY.get(TRIAGE_CLASS.get(intent or "", "out_of_scope"), 5)


def segment(text: str) -> List[Tuple[int, str]]:
    """The message's clauses with their start offsets; one clause for a short message."""
    pieces: List[Tuple[int, str]] = []
    position = 0
    for match in _BOUNDARY.finditer(text):
        if match.end() > position:
            pieces.append((position, text[position:match.start()]))
            position = match.end()
    pieces.append((position, text[position:]))
    clauses: List[Tuple[int, str]] = []
    pending: Optional[Tuple[int, str]] = None
    for start, piece in pieces:
        stripped = piece.strip()
        if not stripped:
            continue
        start += len(piece) - len(piece.lstrip())
        if pending is not None:
            start, stripped = pending[0], text[pending[0]:start + len(stripped)]
            pending = None
        if len(stripped) < MIN_CLAUSE_CHARS:
            pending = (start, stripped)
            continue
        clauses.append((start, stripped))
    if pending is not None:
        if clauses:
            first_start = clauses[-1][0]
            clauses[-1] = (first_start, text[first_start:pending[0] + len(pending[1])])
        else:
            clauses.append(pending)
    if len(clauses) > MAX_CLAUSES:  # keep the last ones: the problem usually comes after the context
        head_end = clauses[-MAX_CLAUSES][0]
        clauses = [(0, text[:head_end].strip())] + clauses[-MAX_CLAUSES + 1:]
    return clauses


def intent_of(parse: Dict[str, Any]) -> Tuple[Optional[str], float]:
    """A parse's intent name and confidence."""
    intent = parse.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def decide(whole: Dict[str, Any], clauses: List[Tuple[int, Dict[str, Any]]]) -> Dict[str, Any]:
    """The parse to act on: the whole message's, unless a clause names a more urgent problem.

    ``clauses`` holds (offset, parse) for each clause. A clause wins only when it
    is confident (``CLAUSE_CONFIDENCE``, or forced by the theft guard) and more
    urgent than the whole message's intent; one at ``SECOND_PROBLEM_CONFIDENCE``
    can still be the runner-up problem the reply offers.
    """
    best_intent, best_confidence = intent_of(whole)
    confidently_off_topic = best_intent == OUT_OF_SCOPE and best_confidence >= OUT_OF_SCOPE_THRESHOLD
    best_rank = urgency(best_intent) if best_intent != FALLBACK else 6
    chosen: Optional[Dict[str, Any]] = None
    problems: Dict[str, float] = {}
    if best_intent and best_intent != FALLBACK:
        problems[best_intent] = best_confidence
    for _offset, parse in clauses:
        intent, confidence = intent_of(parse)
        if not intent or intent == FALLBACK or confidence < SECOND_PROBLEM_CONFIDENCE or urgency(intent) >= 4:
            # A greeting, a thanks or an off-topic aside never speaks for a longer message:
            # "…never made? Could you help? Thanks." is not answered "you're welcome".
            continue
        if confidently_off_topic and TRIAGE_CLASS.get(intent) != THEFT_CLASS:
            continue
        problems[intent] = max(confidence, problems.get(intent, 0.0))
        if confidence < CLAUSE_CONFIDENCE:
            continue  # sure enough to offer as the second problem's button, not to decide the answer
        rank = urgency(intent)
        if rank < best_rank or (rank == best_rank and chosen is not None and confidence > best_confidence):
            chosen, best_intent, best_confidence, best_rank = parse, intent, confidence, rank
    result = dict(whole)
    if chosen is not None:
        result["intent"] = dict(chosen["intent"])
        ranking = [r for r in whole.get("intent_ranking") or [] if r.get("name") != best_intent]
        result["intent_ranking"] = [dict(chosen["intent"])] + ranking
    result["entities"] = _merged_entities(whole, clauses)
    others = sorted((i for i in problems if i != best_intent and urgency(i) < 4),
                    key=lambda i: (urgency(i), -problems[i]))
    result["triage"] = {"clauses": len(clauses), "chosen": best_intent, "secondary": others[0] if others else None}
    return result


def _merged_entities(whole: Dict[str, Any], clauses: List[Tuple[int, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    entities = [dict(e) for e in whole.get("entities") or []]
    seen = {(e.get("entity"), e.get("start"), e.get("end")) for e in entities}
    for offset, parse in clauses:
        for entity in parse.get("entities") or []:
            moved = dict(entity)
            if isinstance(moved.get("start"), int) and isinstance(moved.get("end"), int):
                moved["start"] += offset
                moved["end"] += offset
            key = (moved.get("entity"), moved.get("start"), moved.get("end"))
            if key not in seen:
                seen.add(key)
                entities.append(moved)
    return entities


def clauses_to_parse(text: str) -> List[Tuple[int, str]]:
    """The clauses :func:`triage_clauses` needs parsed: none for a one-clause message or a command."""
    if not text or text.startswith("/"):
        return []
    clauses = segment(text)
    return clauses if len(clauses) >= 2 else []


def triage_clauses(whole: Dict[str, Any], clauses: List[Tuple[int, str]], parsed: List[Dict[str, Any]],
                   parse_clauses: Callable[[List[str]], List[Dict[str, Any]]]) -> Dict[str, Any]:
    """:func:`decide` on the whole message's parse and its clauses' parses (one per clause, in order)."""
    with_offsets = list(zip((offset for offset, _clause in clauses), parsed))
    return decide(_without_chit_chat(whole, clauses, with_offsets, parse_clauses), with_offsets)


def triage_parse(text: str, whole: Dict[str, Any],
                 parse_clauses: Callable[[List[str]], List[Dict[str, Any]]]) -> Dict[str, Any]:
    """Segment ``text``; with more than one clause, parse them (one call for all) and :func:`decide`."""
    clauses = clauses_to_parse(text)
    if not clauses:
        return whole
    return triage_clauses(whole, clauses, parse_clauses([clause for _offset, clause in clauses]), parse_clauses)


def _without_chit_chat(whole: Dict[str, Any], clauses: List[Tuple[int, str]],
                       parsed: List[Tuple[int, Dict[str, Any]]],
                       parse_clauses: Callable[[List[str]], List[Dict[str, Any]]]) -> Dict[str, Any]:
    """The whole message's parse, re-done without its greeting and thanks.

    "Hi. How do I back up my wallet? Thanks!" was classified as a theft report (0.6) as a
    whole, and a message whose problem is vague can read as ``thanks``: the wrapper is the
    most confident part. When the whole reads as chit-chat, or a clause is confidently
    chit-chat, and some clause is not, the chit-chat clauses are dropped and the rest is
    classified again, as one text (one more parse, for such messages only).
    """
    wrappers = [intent_of(parse)[0] in _CHIT_CHAT and intent_of(parse)[1] >= CLAUSE_CONFIDENCE
                for _offset, parse in parsed]
    if intent_of(whole)[0] not in _CHIT_CHAT and not any(wrappers):
        return whole
    kept = [clause for (_offset, clause), (_o, parse) in zip(clauses, parsed)
            if intent_of(parse)[0] not in _CHIT_CHAT]
    if not kept or len(kept) == len(clauses):
        return whole
    rest = parse_clauses(["\n".join(kept)])[0]
    rest_intent, _ = intent_of(rest)
    if not rest_intent or rest_intent == FALLBACK or urgency(rest_intent) >= 4:
        return whole  # no problem without the pleasantries either: "Thanks a lot. Have a nice day."
    result = dict(whole)
    result["intent"] = dict(rest["intent"])
    result["intent_ranking"] = [dict(r) for r in rest.get("intent_ranking") or []]
    result["chit_chat_dropped"] = True
    return result
