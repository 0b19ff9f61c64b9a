"""The supervisors' report: deflection, fallback and handoff rates, volumes, helpfulness, unanswered topics."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("reports")
