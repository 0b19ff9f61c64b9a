"""The desk's JSON API as the bot sees it: the HTTP client, the escalation payload and
its priority rules, and the on-disk outbox of escalations the desk could not take yet.

Imported by the action server and the Rasa process (gateway fallback, Telegram
attachments notes); the payload shapes (``deskapi.escalations``) by the desk too.
"""
