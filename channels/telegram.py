"""The Telegram bot, hardened (a subclass of Rasa's TelegramInput).

Rasa 3.6's connector calls ``setWebhook`` when the server starts (no network,
no server), calls ``getMe`` on every update, has no webhook secret check,
answers a photo or a ``my_chat_member`` update with a 500 that Telegram
redelivers forever, and processes a redelivered ``update_id`` twice. This one:

- refuses updates without the ``X-Telegram-Bot-Api-Secret-Token`` header set
  through ``setWebhook`` (403), and malformed bodies (400);
- records every ``update_id`` in SQLite, so a redelivery is acknowledged and
  not processed again, also after a restart;
- answers every update type with 200: text and button presses go to the bot;
  photos, files, stickers and voice get a polite "please describe it in text"
  (and are noted on the user's open ticket); membership changes are logged;
- talks only in private chats (in a group it answers a mention with "write to
  me privately" and ignores the rest, so nobody discusses a wallet in public);
- sends buttons as inline keyboards and splits replies over 4096 characters;
- uses a configurable Bot API base URL (a local Bot API server, or tests), and
  registers the webhook only when an operator calls ``set_webhook`` with the
  Rasa API token.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.conversation_ids import telegram_chat, telegram_conversation
from channels.input_gate import MessageHandler, gated
from durable.queue import DurableQueue
from answers.curated import bilingual
from settings import PROJECT_ROOT, TelegramSettings, get_settings
from safety.tokens import token_matches

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4096
MAX_CALLBACK_DATA_BYTES = 64
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
NON_TEXT_KINDS = ("photo", "document", "sticker", "voice", "video", "audio", "animation", "video_note", "contact", "location")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


ATTACHED_KINDS = ("photo", "document")  # handed to the desk as attachments (desk.attachments)


def _file_id(item: Any) -> Optional[str]:
    """A message's file id: a document's, or the largest size of a photo (Telegram lists them smallest first)."""
    chosen = item[-1] if isinstance(item, list) and item else item
    value = chosen.get("file_id") if isinstance(chosen, dict) else None
    return value if isinstance(value, str) and value else None


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> List[str]:
    """Pieces of at most ``limit`` characters, cut at a paragraph or line break when there is one."""
    pieces: List[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        cut = cut if cut > limit // 2 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


class BotApi:
    """The few Bot API methods we use, against a configurable server."""

    def __init__(self, base_url: str, token: Optional[str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    async def call(self, method: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        if not self.token:
            raise RuntimeError("TELEGRAM_BOT_TOKEN is not set")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            async with session.post(f"{self.base_url}/bot{self.token}/{method}", json=payload) as answer:
                body = await answer.json(content_type=None)
                if answer.status != 200 or not body.get("ok"):
                    raise RuntimeError(f"Bot API {method} failed: HTTP {answer.status} {str(body)[:200]}")
                return body


class HardenedTelegramOutput(OutputChannel):
    """Replies through the Bot API: split long texts, inline keyboards for buttons."""

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    def __init__(self, api: BotApi) -> None:
        self.api = api

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for piece in split_message(text):
            await self.api.call("sendMessage", {"chat_id": telegram_chat(recipient_id), "text": piece})

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:
        pieces = split_message(text) or [" "]
        for piece in pieces[:-1]:
            await self.api.call("sendMessage", {"chat_id": telegram_chat(recipient_id), "text": piece})
        keyboard = [[{"text": str(b.get("title", ""))[:64],
                      "callback_data": str(b.get("payload", ""))[:MAX_CALLBACK_DATA_BYTES]}] for b in buttons]
        await self.api.call("sendMessage", {"chat_id": telegram_chat(recipient_id), "text": pieces[-1],
                                            "reply_markup": {"inline_keyboard": keyboard}})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self.api.call("sendPhoto", {"chat_id": telegram_chat(recipient_id), "photo": image})


class UpdateLedger:
    """Which update_ids were handled, so redeliveries are not processed twice (a keyed durable queue).

    Each update_id is an entry keyed ``update:<id>``: pending and leased while it
    is processed, ``done`` once handled, dead when its handling failed (the user
    was told; Telegram must not redeliver it into a second failure). A redelivery
    during a slow turn finds the lease running and is acknowledged as a
    duplicate; once the lease has run out (or its holder on this machine has
    died) the update is taken up again.
    """

    LEASE_SECONDS = 300.0

    def __init__(self, path: Path, lease_seconds: float = LEASE_SECONDS) -> None:
        self.lease_seconds = lease_seconds
        self.queue = DurableQueue(path)
        self.queue.adopt_legacy("telegram_updates",
                                "SELECT NULL, 'update:' || update_id, NULL, json_object('update_id', update_id),"
                                " CASE status WHEN 'done' THEN 'done' WHEN 'processing' THEN 'pending' ELSE 'dead' END,"
                                " received_at, 0, CASE WHEN status = 'failed' THEN 'failed' END FROM telegram_updates")

    def begin(self, update_id: int) -> bool:
        """True when this update must be processed now (never seen, or its processing lease ran out)."""
        entry = self.queue.put({"update_id": update_id}, key=f"update:{update_id}")
        return self.queue.claim_entry(entry.id, self.lease_seconds)

    def finish(self, update_id: int, status: str = "done") -> None:
        entry = self.queue.get(f"update:{update_id}")
        if entry is None:
            return
        if status == "done":
            self.queue.ack(entry.id)
        else:
            self.queue.fail(entry.id, status, permanent=True)


def _language(user: Optional[Dict[str, Any]]) -> str:
    code = str((user or {}).get("language_code") or "")
    return "en" if code.startswith("en") else "zh"


class HardenedTelegramInput(TelegramInput):
    """Configured from settings.yml + environment (TELEGRAM_*), not credentials.yml values."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "HardenedTelegramInput":
        return cls(get_settings().telegram, get_settings().rasa_api_token)

    def __init__(self, settings: TelegramSettings, operator_token: Optional[str]) -> None:
        super().__init__(settings.bot_token, settings.bot_username, settings.webhook_url, debug_mode=False)
        self.settings = settings
        self.operator_token = operator_token
        self.api = BotApi(settings.api_base_url, settings.bot_token)
        path = Path(settings.dedupe_db)
        self.ledger = UpdateLedger(path if path.is_absolute() else PROJECT_ROOT / path)

    def get_output_channel(self) -> HardenedTelegramOutput:
        # Unlike Rasa's, no setWebhook call here: see the set_webhook route.
        return HardenedTelegramOutput(self.api)

    def _secret_ok(self, request: Request) -> bool:
        presented = request.headers.get(SECRET_HEADER)
        return token_matches(presented, self.settings.webhook_secret)

    def _operator_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        presented = request.args.get("token") or (header[7:] if header.lower().startswith("bearer ") else None)
        return token_matches(presented, self.operator_token)

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        handle = gated(on_new_message)
        telegram_webhook = Blueprint("telegram_webhook", __name__)
        out_channel = self.get_output_channel()

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.settings.enabled else "disabled"})

        @telegram_webhook.route("/set_webhook", methods=["POST"])
        async def set_webhook(request: Request) -> HTTPResponse:
            if not self._operator_ok(request):
                return response.json({"error": "missing or wrong token (the Rasa API token)"}, status=401)
            if not self.settings.enabled or not self.settings.webhook_url:
                return response.json({"error": "set TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET and TELEGRAM_WEBHOOK_URL first"}, status=409)
            try:
                await self.api.call("setWebhook", {"url": self.settings.webhook_url, "secret_token": self.settings.webhook_secret,
                                                   "allowed_updates": ALLOWED_UPDATES, "drop_pending_updates": False})
            except Exception as error:  # noqa: BLE001 - reported to the operator
                logger.error("setWebhook failed: %s", error)
                return response.json({"error": f"Telegram refused: {error}"}, status=502)
            return response.json({"status": "webhook set", "url": self.settings.webhook_url})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.settings.enabled:
                return response.json({"error": "the Telegram channel is not configured"}, status=503)
            if not self._secret_ok(request):
                return response.json({"error": "wrong or missing secret token"}, status=403)
            try:
                update = json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError):
                return response.json({"error": "the body is not valid JSON"}, status=400)
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                return response.json({"error": "not a Telegram update (no integer update_id)"}, status=400)
            update_id = update["update_id"]
            if not self.ledger.begin(update_id):
                return response.json({"status": "duplicate, already handled"})
            try:
                await self._handle(update, handle, out_channel)
                self.ledger.finish(update_id)
            except Exception:  # never a 5xx: Telegram would redeliver it forever
                logger.exception("Telegram update %s failed", update_id)
                self.ledger.finish(update_id, "failed")
                await self._tell_failure(update)
            return response.json({"status": "ok"})

        return telegram_webhook

    async def _handle(self, update: Dict[str, Any], handle: MessageHandler, out_channel: HardenedTelegramOutput) -> None:
        if "callback_query" in update:
            query = update["callback_query"]
            await self.api.call("answerCallbackQuery", {"callback_query_id": query.get("id")})
            message = query.get("message") or {}
            if (message.get("chat") or {}).get("type") == "private" and isinstance(query.get("data"), str):
                await self._to_bot(message["chat"]["id"], query["data"], handle, out_channel, update)
            return
        message = update.get("message") or update.get("edited_message")
        if message is None:
            if "my_chat_member" in update:
                member = update["my_chat_member"]
                logger.info("bot membership in chat %s is now %s", (member.get("chat") or {}).get("id"),
                            (member.get("new_chat_member") or {}).get("status"))
            return  # other update kinds: nothing to do, acknowledged
        chat = message.get("chat") or {}
        chat_id = chat.get("id")
        if chat_id is None:
            return
        language = _language(message.get("from"))
        if chat.get("type") != "private":
            if self._addressed_to_me(message):
                await self._reply(chat_id, "utter_telegram_private_only", language)
            return
        text = message.get("text")
        if isinstance(text, str):
            await self._to_bot(chat_id, text, handle, out_channel, update)
            return
        kind = next((k for k in NON_TEXT_KINDS if k in message), "attachment")
        if not (kind in ATTACHED_KINDS and await self._attach(chat_id, kind, message, language)):
            await self._reply(chat_id, "utter_telegram_non_text", language)
            await self._note_on_ticket(telegram_conversation(chat_id), kind, message)
        if isinstance(message.get("caption"), str) and message["caption"].strip():
            await self._to_bot(chat_id, message["caption"], handle, out_channel, update)

    def _addressed_to_me(self, message: Dict[str, Any]) -> bool:
        username = (self.settings.bot_username or "").lstrip("@").lower()
        text = str(message.get("text") or message.get("caption") or "").lower()
        replied_to = ((message.get("reply_to_message") or {}).get("from") or {}).get("username", "").lower()
        return bool(username) and (f"@{username}" in text or replied_to == username)

    async def _to_bot(self, chat_id: Any, text: str, handle: MessageHandler, out_channel: OutputChannel,
                      update: Dict[str, Any]) -> None:
        if len(text) > get_settings().max_message_chars:
            message = update.get("message") or update.get("edited_message") or {}
            await self._reply(chat_id, "utter_message_too_long", _language(message.get("from")))
            return
        await handle(UserMessage(text, out_channel, telegram_conversation(chat_id), input_channel=self.name(),
                                 metadata={"telegram_update_id": update.get("update_id")}))

    async def _reply(self, chat_id: Any, response_name: str, language: str) -> None:
        await self.api.call("sendMessage", {"chat_id": chat_id, "text": bilingual(response_name)[language]})

    async def _attach(self, chat_id: Any, kind: str, message: Dict[str, Any], language: str) -> bool:
        """Hand a photo or document to the desk by reference (it fetches the file; no bytes pass here or
        into the tracker); tell the user it is on their ticket, and never to photograph a seed phrase.
        False when the desk could not take it (the caller falls back to asking for text)."""
        from deskapi.client import DeskUnavailable, get_desk_client

        desk = get_desk_client()
        file_id = _file_id(message.get(kind))
        if desk is None or file_id is None:
            return False
        try:
            result = await desk.attach(telegram_conversation(chat_id), kind, file_id, self.name(), language)
        except DeskUnavailable as error:
            logger.warning("a %s for %s was not attached: HTTP %s", kind, telegram_conversation(chat_id), error.status)
            if error.status in (413, 415):
                await self._reply(chat_id, "utter_attachment_refused", language)
                return True
            return False
        ticket_id = (result.get("ticket") or {}).get("id", "")
        await self.api.call("sendMessage", {"chat_id": chat_id,
                                            "text": bilingual("utter_attachment_received")[language].format(ticket_id=ticket_id)})
        return True

    async def _note_on_ticket(self, conversation_id: str, kind: str, message: Dict[str, Any]) -> None:
        """Agents can ask for the file on the ticket; we keep only a reference, never the content."""
        from deskapi.client import DeskUnavailable, get_desk_client

        desk = get_desk_client()
        if desk is None:
            return
        item = message.get(kind)
        file_id = (item[-1] if isinstance(item, list) and item else item or {}).get("file_id") if isinstance(item, (list, dict)) else None
        try:
            await desk.append_message(conversation_id, f"[Telegram {kind}{' file_id=' + file_id if file_id else ''}]", "attachment", None)
        except DeskUnavailable as error:
            logger.warning("could not note a %s on %s's ticket: %s", kind, conversation_id, error)

    async def _tell_failure(self, update: Dict[str, Any]) -> None:
        message = update.get("message") or update.get("edited_message") or (update.get("callback_query") or {}).get("message") or {}
        chat_id = (message.get("chat") or {}).get("id")
        if chat_id is not None:
            try:
                await self._reply(chat_id, "utter_message_not_processed", _language(message.get("from")))
            except Exception:  # noqa: BLE001 - already failing; the log has the cause
                logger.exception("could not tell chat %s about the failure", chat_id)
