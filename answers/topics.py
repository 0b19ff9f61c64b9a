"""Which intents the bot answers from the curated FAQ, and so which an incident may cover.

``action_answer_faq`` answers these (data/rules/faq.yml), after checking for an
active incident that names the intent. The desk refuses incidents on any other
intent: a theft report or a pasted secret is never answered with an outage
notice instead of a P1 ticket (SPEC §4).
"""

from __future__ import annotations

from typing import Optional, Sequence

FAQ_INTENTS = (
    "create_wallet", "import_wallet", "backup_mnemonic", "forgot_password",
    "stuck_transaction", "failed_transaction", "deposit_not_received", "scam_report",
    "gas_fee", "add_custom_token", "token_approval", "cross_chain",
    "dapp_connection", "app_connectivity", "official_download", "supported_chains",
)
NEVER_DEFLECTED_INTENTS = frozenset({"suspected_theft", "secret_exposed"})
assert not NEVER_DEFLECTED_INTENTS & set(FAQ_INTENTS)


def incident_covers(intents: Sequence[str], chains: Sequence[str], intent: Optional[str], chain: Optional[str]) -> bool:
    """Does an incident on ``intents`` (and ``chains``, if any) cover this question?

    Chains narrow the match only when the user named one: "转账一直pending"
    without a chain still gets the TRON congestion notice, "ETH 转账卡住" does not.
    """
    if intent not in intents:
        return False
    return not chains or not chain or chain.casefold() in {c.casefold() for c in chains}
