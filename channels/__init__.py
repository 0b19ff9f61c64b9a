"""Rasa input channels (``credentials.yml``): REST, socket.io (web widget), Telegram,
and the worker's internal channel; each passes messages through the input gate
(redaction, payload allowlist, length limit) before Rasa sees them.

Imported by the Rasa server process. Never imports ``actions``.
"""
