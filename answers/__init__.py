"""What the bot answers without a person: curated texts and FAQ topics, the reply
language, the FAQ answer with its incident notice, the escalation request, and the
fallback the gateway gives when the action server cannot answer.

Imported by the action server (``actions``) and by the Rasa process's action gateway
(``rasa_server.action_gateway``), so neither reaches into the other.
"""
