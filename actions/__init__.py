"""Custom actions for the rasa-sdk action server (``rasa run actions``)."""
