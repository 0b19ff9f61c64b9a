"""Rasa NLU components (``config.yml`` names them): text normaliser, jieba tokenizer, theft guard.

Imported by the Rasa server and its worker (``rasa run``), by ``rasa train`` and the
NLU benchmark. Pure text work, no network or database.
"""
