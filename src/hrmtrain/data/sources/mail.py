"""E-mail from `.eml` files and mbox folders, read with the stdlib `email` package.

Always `policy.default` (also as the mbox factory: the mailbox module's default gives legacy
`Message` objects without `get_body`). A message whose charset Python does not know raises
`LookupError` in `get_content()`: that message is kept with its bytes decoded leniently and a
warning, never a crash. Attachments are dropped; only sender, recipients that are members,
subject, date and the plain-text body are kept (minimisation). Who a message concerns comes from every
address header, Bcc and delivery headers included: a member's known address makes them concerned; a
display name, an unknown address's local part or a name in the subject or body that points at a member
makes them possibly concerned, and their consent is needed too.
"""

from __future__ import annotations

import email
import re
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

from hrmtrain.data.sources.records import Loaded, Record, Skipped

from hrmtrain.privacy.directory import Directory

MAX_BODY_CHARS = 4000


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def _html_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return re.sub(r"\n\s*\n+", "\n\n", " ".join(p.parts)).strip()


def _body(msg: EmailMessage) -> tuple[str, str | None]:
    """(plain text, warning or None)."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None and msg.get_content_type() == "message/rfc822":  # a forwarded message at the top
        inner = msg.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        return _body(inner) if isinstance(inner, EmailMessage) else ("", None)
    if part is None:
        return "", None
    warning = None
    try:
        text = part.get_content()
    except LookupError as exc:  # unknown charset
        raw = part.get_payload(decode=True) or b""
        text = raw.decode("utf-8", errors="replace")
        warning = f"unknown charset ({exc}); body decoded as UTF-8 with replacements"
    except (ValueError, AssertionError) as exc:  # broken transfer encoding
        raw = part.get_payload(decode=True) or b""
        text = raw.decode("latin-1")
        warning = f"undecodable body ({exc}); decoded as Latin-1"
    if not isinstance(text, str):
        text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
    if part.get_content_subtype() == "html":
        text = _html_text(text)
    return text.strip()[:MAX_BODY_CHARS], warning


# What Python 3.11's header parser raises on some malformed values ("a@", "<", "((((", "text/plain;a*"):
HEADER_ERRORS = (ValueError, IndexError, TypeError, AttributeError, UnboundLocalError, RecursionError, LookupError)
# An mbox "From " separator line: sender, then an asctime date. A body line that merely starts with
# "From " (unescaped, as in "From time to time") is not one, though Python's mailbox module splits there.
FROM_LINE = re.compile(rb"^From \S+\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                       rb" +\d{1,2} \d{1,2}:\d{2}(?::\d{2})? (?:\S+ )?\d{4}")


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox, split on real separator lines, with ">From " un-escaped (mboxrd)."""
    messages, current = [], None
    for line in data.splitlines(keepends=True):
        if FROM_LINE.match(line):
            if current is not None:
                messages.append(b"".join(current))
            current = []
        elif current is not None:
            current.append(line[1:] if re.match(rb"^>+From ", line) else line)
    if current is not None:
        messages.append(b"".join(current))
    return messages


# Everyone a message may concern: Bcc and the delivery headers name recipients that To/Cc do not.
RECIPIENT_HEADERS = ("To", "Cc", "Bcc", "Delivered-To", "X-Original-To", "Resent-To", "Resent-Cc", "Resent-Bcc")
OTHER_SENDER_HEADERS = ("Sender", "Reply-To", "Resent-From")


def _addresses(msg: EmailMessage, header: str) -> list[tuple[str, str]]:
    """(display name, address) pairs; a header too broken to parse gives none."""
    try:
        value = msg[header]
    except HEADER_ERRORS:
        return []
    if value is None:
        return []
    groups = getattr(value, "addresses", None)
    if groups is None:
        return [("", a.strip()) for a in str(value).split(",") if "@" in a]
    return [(a.display_name, a.addr_spec) for a in groups if a.addr_spec and "@" in a.addr_spec]


def _local_time(msg: EmailMessage, tz: str) -> str | None:
    try:
        raw = msg["Date"]
        dt = parsedate_to_datetime(str(raw)) if raw is not None else None
    except (TypeError, ValueError, IndexError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(ZoneInfo(tz)).replace(tzinfo=None).isoformat(timespec="minutes")


def message_record(msg: EmailMessage, path: Path, n: int, directory: Directory, owner: str | None,
                   out: Loaded) -> Record | None:
    part = f"message {n}"
    if not msg.keys():
        out.skipped.append(Skipped(str(path), "no mail headers (not an e-mail?)", part))
        return None
    senders = _addresses(msg, "From")
    if not senders:
        try:
            raw_from = str(msg.get("From") or "").strip()
        except HEADER_ERRORS:
            raw_from = ""
        if not raw_from:
            out.skipped.append(Skipped(str(path), "no From header", part))
            return None
        out.warnings.append(Skipped(str(path), f"From {raw_from[:60]!r} holds no address", part))
        senders = [(raw_from, raw_from)]
    recipients = [a for h in RECIPIENT_HEADERS for a in _addresses(msg, h)]
    body, warning = _body(msg)
    if warning:
        out.warnings.append(Skipped(str(path), warning, part))
    when = _local_time(msg, directory.timezone)
    if when is None:
        out.warnings.append(Skipped(str(path), f"no readable Date header ({msg.get('Date')!r}); using the build time", part))
        when = directory.now or datetime.now().isoformat(timespec="minutes")
    people = senders + [a for h in OTHER_SENDER_HEADERS for a in _addresses(msg, h)] + recipients
    members = {m for _, a in people if (m := directory.by_email(a))}
    if owner:
        members.add(owner)
    name, address = senders[0]
    try:
        subject = str(msg.get("Subject") or "").strip()
    except HEADER_ERRORS:
        subject = ""
    possible = {m for n, a in people if not directory.by_email(a) for m in directory.possibly_named(n, a)}
    possible |= directory.named_in(subject) | directory.named_in(body)
    fields = {"sender": address, "sender_name": name, "subject": subject, "body": body, "date": when}
    key = str(msg.get("Message-ID") or part).strip()
    return Record("email", "email", str(path), key, fields, sorted(members), sorted(possible - members))


def _looks_binary(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(8192)
    return b"\x00" in head


def read_mail(path: Path, directory: Directory) -> Loaded:
    out = Loaded()
    if path.stat().st_size == 0:
        out.skipped.append(Skipped(str(path), "empty file"))
        return out
    if _looks_binary(path):
        out.skipped.append(Skipped(str(path), "binary content (NUL bytes), not an e-mail"))
        return out
    owner = directory.by_name(path.stem)
    with open(path, "rb") as f:
        is_mbox = f.read(5) == b"From " and path.suffix.lower() != ".eml"
    if not is_mbox and path.suffix.lower() in (".mbox", ""):
        out.skipped.append(Skipped(str(path), "not an mbox file (does not start with a 'From ' line)"))
        return out
    data = path.read_bytes()
    chunks = split_mbox(data) if is_mbox else [data]
    for n, chunk in enumerate(chunks, start=1):
        try:
            msg = email.message_from_bytes(chunk, policy=policy.default)
            rec = message_record(msg, path, n, directory, owner, out)
        except HEADER_ERRORS as exc:  # the stdlib parser gives up on a few malformed headers
            out.skipped.append(Skipped(str(path), f"unparseable headers ({type(exc).__name__}: {exc})"[:200],
                                       f"message {n}"))
            continue
        if rec:
            out.records.append(rec)
    if not is_mbox and not out.records and out.skipped and out.skipped[-1].part:
        s = out.skipped.pop()  # the only message failed: the file failed
        out.skipped.append(Skipped(str(path), s.reason))
    if is_mbox and not chunks:
        out.skipped.append(Skipped(str(path), "no message found after the first 'From ' line"))
    return out
