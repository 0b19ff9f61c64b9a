"""The desk's routes, one Sanic blueprint per area; ``desk.web.create_app`` assembles them.

Handlers are module-level functions; what they share (the service, settings,
Rasa client, alerts, sessions, incidents and the ``Desk`` itself) is on
``request.app.ctx``. Shared helpers are in ``desk.routes.common``, the app-wide
error answers in ``desk.routes.errors``.
"""

from __future__ import annotations

from desk.routes import admin, agents, attachments, auth, canned, health, incidents, metrics, tickets, widget
from desk.routes import nlu_inbox, reports
from desk.routes.errors import register_error_handlers

BLUEPRINTS = (health.bp, auth.bp, tickets.bp, metrics.bp, incidents.bp, widget.bp, admin.bp, agents.bp, attachments.bp, canned.bp)
BLUEPRINTS += (nlu_inbox.bp, reports.bp)

__all__ = ["BLUEPRINTS", "register_error_handlers"]
