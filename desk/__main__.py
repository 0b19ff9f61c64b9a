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
from wallet_support.settings import DeskSettings, get_settings


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
                             settings.oncall_telegram_chat_id, settings.url), get_settings().socketio)
    app = create_app(desk)
    logging.info("Agent desk on http://%s:%s/desk/ (database %s)", host, port, settings.database_url.split("@")[-1])
    app.run(host=host, port=port, workers=1, access_log=debug, debug=False)


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
    shifts_cmd = commands.add_parser("shifts", help="print the shift plan, or replace it with --set JSON")
    shifts_cmd.add_argument("--set", dest="shifts_json")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.DEBUG if getattr(args, "debug", False) else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings().desk
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
        elif args.command == "shifts":
            service = build_service(settings)
            if args.shifts_json:
                service.set_shifts(json.loads(args.shifts_json))
            print(json.dumps({"timezone": settings.timezone, "shifts": service.shifts()}, ensure_ascii=False))
    except DeskError as error:
        sys.exit(f"desk: {error.reason}")


if __name__ == "__main__":
    main()
