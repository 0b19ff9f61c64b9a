"""The rasa-sdk action server (``python -m actions.server``, port 5055): escalation,
handoff, clarification, transfer details, incident subscriptions, ratings.

Imported only by the action server process.
"""
