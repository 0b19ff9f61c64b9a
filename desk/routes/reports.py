"""The supervisors' bot report (desk/report.py): a page with SVG charts, JSON and CSV."""

from __future__ import annotations

from typing import Any, Dict

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.charts import bar_chart
from desk.models import Agent
from desk.report import build_report, parse_day, report_csv
from desk.routes.common import UI_TEXT, api, page, render_for, require_supervisor
from desk.sessions import ActiveSession

bp = Blueprint("reports")
SUPERVISORS_ONLY = "the bot report is for supervisors"


def _report(request: Request) -> Dict[str, Any]:
    desk = request.app.ctx.desk
    return build_report(desk.conversation_log, desk.service.db, request.args.get("period") or "day",
                        parse_day(request.args.get("date")), desk.settings.timezone)


def _csv(report: Dict[str, Any]) -> HTTPResponse:
    name = f"bot-report-{report['period']}-{report['start']}.csv"
    return response.text(report_csv(report), content_type="text/csv; charset=utf-8",
                         headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.get("/api/report")
@api
async def report_json(request: Request, agent: Agent) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    return response.json(_report(request))


@bp.get("/api/report.csv")
@api
async def report_csv_api(request: Request, agent: Agent) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    return _csv(_report(request))


@bp.get("/desk/report.csv")
@page
async def report_csv_page(request: Request, session: ActiveSession) -> HTTPResponse:
    require_supervisor(session.agent, SUPERVISORS_ONLY)
    return _csv(_report(request))


@bp.get("/desk/report")
@page
async def report_page(request: Request, session: ActiveSession) -> HTTPResponse:
    require_supervisor(session.agent, SUPERVISORS_ONLY)
    report = _report(request)
    t = UI_TEXT[session.language]
    rates = [(t["report_deflection_rate"], report["deflection_rate"] or 0.0),
             (t["report_fallback_rate"], report["fallback_rate"] or 0.0),
             (t["report_handoff_rate"], report["handoff_rate"] or 0.0)]
    charts = {
        "rates": bar_chart(rates, t["report_deflection_rate"], percent=True, maximum=1.0),
        "intents": bar_chart(list(report["volume_per_intent"].items())[:15], t["report_volume_intent"]),
        "channels": bar_chart(list(report["volume_per_channel"].items()), t["report_volume_channel"], colour="#059669"),
        "topics": bar_chart([(topic["label"], topic["count"]) for topic in report["topics"]], t["report_topics"],
                            colour="#dc2626"),
    }
    query = f"period={report['period']}&date={report['start']}"
    return render_for(request, session, "report.html", report=report, charts=charts, query=query)
