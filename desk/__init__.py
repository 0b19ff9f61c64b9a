"""The agent desk: tickets, the queue agents work from, and the handoff to Rasa.

Run with ``python -m desk serve``; ``python -m desk --help`` lists the other
commands (accounts, API tokens, migrations, shifts).
"""
