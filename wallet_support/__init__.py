"""Shared, dependency-light helpers for the wallet support bot.

Rasa NLU components (``wallet_support.nlu``) and the action server (``actions``)
both build on these modules, so each rule lives in exactly one place.
"""
