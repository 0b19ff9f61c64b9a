"""The users' web widget (rasa-webchat from npm, never a CDN): its page, script, ticket status and banner.

Public routes: the status answers only for a session id the bot signed, the
banner shows announcements and no user data.
"""

from __future__ import annotations

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.incidents import local
from desk.routes.common import DESK_ROOT, UI_TEXT
from desk.serialize import eta_json
from desk.service import DeskError

bp = Blueprint("widget")
WIDGET_ROOT = DESK_ROOT.parent / "widget"
WEBCHAT_BUNDLE = WIDGET_ROOT / "node_modules/rasa-webchat/lib/index.js"


def _language(request: Request) -> str:
    return "en" if request.args.get("lang") == "en" else "zh"


@bp.get("/widget/")
async def widget_page(request: Request) -> HTTPResponse:
    language = _language(request)
    text = UI_TEXT[language]
    socket_url = request.app.ctx.desk.socket_public_url
    page = request.app.ctx.desk.templates.get_template("widget.html").render(
        t=text, lang=language, socket_url=socket_url, widget_text={k: v for k, v in text.items() if k.startswith("widget_")})
    ws_url = "ws" + socket_url[4:] if socket_url.startswith("http") else socket_url
    return response.html(page, headers={
        "Cache-Control": "no-store",
        "Content-Security-Policy": f"default-src 'self'; connect-src 'self' {socket_url} {ws_url}; "
                                   "img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"})


@bp.get("/widget/webchat.js")
async def widget_bundle(request: Request) -> HTTPResponse:
    if not WEBCHAT_BUNDLE.exists():
        return response.text("rasa-webchat is not installed: run `make setup` (npm ci in widget/)", status=503)
    return await response.file(str(WEBCHAT_BUNDLE), mime_type="application/javascript",
                               headers={"Cache-Control": "public, max-age=3600"})


@bp.get("/widget/status")
async def widget_status(request: Request) -> HTTPResponse:
    """The open ticket of the conversation whose signed session id the browser holds."""
    session_id = request.args.get("session")
    if not request.app.ctx.desk.session_signer.verify(session_id):
        raise DeskError(400, "not a session id issued by this service")
    found = request.app.ctx.service.conversation_status(session_id)
    if found is None:
        return response.json({"ticket": None})
    ticket, eta = found
    return response.json({"ticket": {"id": ticket.public_id, "status": ticket.status, "priority": ticket.priority},
                          **eta_json(eta)})


@bp.get("/widget/incidents")
async def widget_incidents(request: Request) -> HTTPResponse:
    """The banner: active incidents in the page's language."""
    language = _language(request)
    zone = request.app.ctx.settings.timezone
    return response.json({"incidents": [
        {"id": i.public_id, "title": i.title, "status": i.status,
         "message": i.message_en if language == "en" else i.message_zh, "eta_local": local(i.eta, zone),
         "timezone": zone} for i in request.app.ctx.incidents.active()]}, headers={"Cache-Control": "no-store"})
