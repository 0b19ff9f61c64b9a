"""What runs inside the Rasa server process (and its worker): the tracker store and
lock store ``endpoints.yml`` names, the tracker guard and message spool, the worker
router, the bilingual NLG, the action gateway, health, and ``patches`` (every change
to a Rasa internal, installed through one function).

Imported only by ``rasa run`` (through ``endpoints.yml`` and ``credentials*.yml``).
Never imports ``actions``.
"""
