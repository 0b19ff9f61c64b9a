"""``python -m desk``: serve the desk, manage accounts, tokens, shifts and the schema."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from typing import List, Optional

from desk.db import Database, migrate
from desk.oncall import OnCallAlerts
from desk.rasa_client import RasaClient
from desk.service import DeskError, DeskService
from desk.settings import DeskSettings, get_settings, get_socketio_settings


def build_service(settings: DeskSettings) -> DeskService:
    """Migrate the database to the current schema, then open the service on it."""
    migrate(settings.database_url)
    service = DeskService(Database(settings.database_url), settings)
    service.seed_shifts()
    return service


def serve(settings: DeskSettings, port: int, host: str, debug: bool) -> None:
    from desk.web import Desk, create_app

    if not settings.api_token:
        sys.exit("DESK_API_TOKEN is not set: `make run` generates one in var/secrets.env")
    if not settings.rasa_api_token:
        logging.warning("RASA_API_TOKEN is not set: agent replies cannot be delivered")
    service = build_service(settings)
    desk = Desk(settings, service, RasaClient(settings.rasa_url, settings.rasa_api_token),
                OnCallAlerts(settings.oncall_telegram_api_base, settings.oncall_telegram_bot_token,
                             settings.oncall_telegram_chat_id, settings.url), get_socketio_settings())
    app = create_app(desk)
    logging.info("Agent desk on http://%s:%s/desk/ (database %s)", host, port, settings.database_url.split("@")[-1])
    app.run(host=host, port=port, workers=1, access_log=debug, debug=False)


def add_incident_commands(commands: "argparse._SubParsersAction") -> None:
    """``incident list|show|create|update|resolve``: what operators script during an outage."""
    incident = commands.add_parser("incident", help="announce, update and resolve incidents (SPEC §4)")
    actions = incident.add_subparsers(dest="incident_command", required=True)
    actions.add_parser("list", help="every incident, newest first, with its counts")
    show = actions.add_parser("show", help="one incident with its history")
    show.add_argument("id")
    for name, help_text in (("create", "announce an incident"), ("update", "post an update"),
                            ("resolve", "resolve it and notify every subscriber")):
        cmd = actions.add_parser(name, help=help_text)
        if name != "create":
            cmd.add_argument("id")
        cmd.add_argument("--message-zh", required=name != "update")
        cmd.add_argument("--message-en", required=name != "update")
        cmd.add_argument("--as", dest="author", help="the supervisor it is posted as (default: the automation identity)")
        if name == "resolve":
            continue
        cmd.add_argument("--status", choices=["investigating", "identified", "monitoring"])
        cmd.add_argument("--eta", help="ISO time in the desk's time zone, or minutes from now")
        if name == "create":
            cmd.add_argument("--title", required=True)
            cmd.add_argument("--intents", required=True, help="comma-separated FAQ intents, e.g. app_connectivity")
            cmd.add_argument("--chains", default="", help="comma-separated chains (default: every chain)")
        else:
            cmd.add_argument("--notify", action="store_true", help="send this update to the subscribers")


def run_incident_command(args: argparse.Namespace, service: DeskService) -> None:
    from desk.incidents import IncidentService
    from desk.serialize import incident_detail, incident_summary

    incidents = IncidentService(service.db, service.settings.timezone)
    if args.incident_command == "list":
        found = incidents.list()
        print(json.dumps({"incidents": [incident_summary(i, incidents.counts(i)) for i in found]}, ensure_ascii=False, indent=1))
        return
    if args.incident_command == "show":
        incident = incidents.get(args.id)
        print(json.dumps(incident_detail(incident, incidents.counts(incident)), ensure_ascii=False, indent=1))
        return
    author = service.agent_named(args.author) if args.author else service.automation_agent()
    if author.role != "supervisor":
        raise DeskError(403, f"{author.username!r} is not a supervisor")
    body = {key: value for key, value in {
        "title": getattr(args, "title", None), "message_zh": args.message_zh, "message_en": args.message_en,
        "intents": getattr(args, "intents", None), "chains": getattr(args, "chains", None),
        "status": getattr(args, "status", None)}.items() if value}
    eta = getattr(args, "eta", None)
    if eta:
        body["eta"] = float(eta) if eta.replace(".", "", 1).isdigit() else eta
    if args.incident_command == "create":
        public_id = incidents.create(body, author).public_id
    elif args.incident_command == "update":
        public_id = incidents.post_update(args.id, {**body, "notify": args.notify}, author).incident.public_id
    else:
        public_id = incidents.resolve(args.id, body, author).incident.public_id
    incident = incidents.get(public_id)
    print(json.dumps(incident_detail(incident, incidents.counts(incident)), ensure_ascii=False, indent=1))


def run_export(settings: DeskSettings, out: Optional[str]) -> None:
    """Harvest what the tracker store has, then write every labelled inbox item (desk/export_nlu.py)."""
    from pathlib import Path

    from desk.conversation_log import ConversationLog
    from desk.export_nlu import DEFAULT_OUT, export
    from desk.nlu_inbox import NluInbox

    service = build_service(settings)
    inbox = NluInbox(service.db, ConversationLog(settings.tracker_database_url))
    target = Path(out) if out else DEFAULT_OUT
    summary = export(inbox.labelled(), target)
    print(json.dumps({"out": str(target), **summary.as_dict()}, ensure_ascii=False))


def run_report(settings: DeskSettings, period: str, day: Optional[str]) -> None:
    from desk.conversation_log import ConversationLog
    from desk.report import build_report, parse_day, report_csv

    service = build_service(settings)
    report = build_report(ConversationLog(settings.tracker_database_url), service.db, period, parse_day(day),
                          settings.timezone)
    sys.stdout.write(report_csv(report))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m desk", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the desk (web pages and JSON API)")
    serve_cmd.add_argument("--port", type=int, default=None)
    serve_cmd.add_argument("--host", default="0.0.0.0")
    serve_cmd.add_argument("--debug", action="store_true")
    commands.add_parser("migrate", help="bring the database to the current schema")
    agent_cmd = commands.add_parser("create-agent", help="create an agent or supervisor account")
    agent_cmd.add_argument("username")
    agent_cmd.add_argument("--role", choices=["agent", "supervisor"], default="agent")
    agent_cmd.add_argument("--name", help="display name")
    agent_cmd.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    token_cmd = commands.add_parser("create-token", help="issue a bearer token for the JSON API (printed once)")
    token_cmd.add_argument("name")
    token_cmd.add_argument("--agent", help="act as this agent (default: the automation identity)")
    deactivate_cmd = commands.add_parser("deactivate-agent", help="stop an account: no login, sessions and tokens end")
    deactivate_cmd.add_argument("username")
    revoke_cmd = commands.add_parser("revoke-token", help="revoke a bearer token by id, or every live token of a name")
    revoke_cmd.add_argument("name_or_id")
    commands.add_parser("tokens", help="list the bearer tokens (ids, names, agents; never the tokens)")
    shifts_cmd = commands.add_parser("shifts", help="print the shift plan, or replace it with --set JSON")
    shifts_cmd.add_argument("--set", dest="shifts_json")
    add_incident_commands(commands)
    export_cmd = commands.add_parser("export-nlu", help="write the NLU inbox's labelled messages as training data")
    export_cmd.add_argument("--out", default=None, help="folder (default data/nlu/reviewed, which make train reads)")
    report_cmd = commands.add_parser("report", help="the bot report as CSV (deflection, fallback, handoff, topics)")
    report_cmd.add_argument("--period", choices=["day", "week"], default="day")
    report_cmd.add_argument("--date", default=None, help="a day in the period, YYYY-MM-DD (default: today)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.DEBUG if getattr(args, "debug", False) else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    try:
        if args.command == "serve":
            serve(settings, args.port or settings.port, args.host, args.debug)
        elif args.command == "migrate":
            migrate(settings.database_url)
            print("desk: database at the current schema")
        elif args.command == "create-agent":
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
            agent = build_service(settings).create_agent(args.username, password, args.role, args.name)
            print(f"desk: created {agent.role} {agent.username!r}")
        elif args.command == "create-token":
            print(build_service(settings).create_api_token(args.name, args.agent))
        elif args.command == "deactivate-agent":
            agent = build_service(settings).deactivate_agent(args.username)
            print(f"desk: deactivated {agent.username!r}; their sessions ended and tokens were revoked")
        elif args.command == "revoke-token":
            count = build_service(settings).revoke_token(args.name_or_id)
            print(f"desk: revoked {count} token{'s' if count != 1 else ''}")
        elif args.command == "tokens":
            print(json.dumps({"tokens": build_service(settings).api_tokens()}, ensure_ascii=False, indent=1))
        elif args.command == "incident":
            run_incident_command(args, build_service(settings))
        elif args.command == "export-nlu":
            run_export(settings, args.out)
        elif args.command == "report":
            run_report(settings, args.period, args.date)
        elif args.command == "shifts":
            service = build_service(settings)
            if args.shifts_json:
                service.set_shifts(json.loads(args.shifts_json))
            print(json.dumps({"timezone": settings.timezone, "shifts": service.shifts()}, ensure_ascii=False))
    except DeskError as error:
        sys.exit(f"desk: {error.reason}")


if __name__ == "__main__":
    main()
