"""Pure rules with no I/O: secret redaction, the typed-payload allowlist, token
comparison, text cleaning and language detection, widget session-id signing.

Imported by every process (Rasa server and worker, action server, desk): each rule
lives here once.
"""
