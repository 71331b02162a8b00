"""E-mail: .eml (standard library) and Outlook .msg (extract-msg); headers, then the body as text."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

from core.parsing.document import Part, assemble
from core.parsing.web import html_to_text
from core.records import ParsedDocument

HEADERS = ("From", "To", "Cc", "Date", "Subject")


def _mail(filename: str, headers: dict[str, str], body: str, attachments: list[str]) -> ParsedDocument:
    subject = headers.get("Subject") or None
    head = "\n".join(f"{name}: {value}" for name, value in headers.items() if value)
    if attachments:
        head += "\nAttachments: " + ", ".join(attachments)
    return assemble(filename, [Part(head, heading=subject), Part(body, heading=subject)], title=subject)


def parse_eml(filename: str, data: bytes) -> ParsedDocument:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    headers = {name: " ".join(str(message.get(name, "")).split()) for name in HEADERS}
    part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if part is not None:
        content = part.get_content()
        body = html_to_text(content) if part.get_content_type() == "text/html" else str(content)
    attachments = [a.get_filename() or "unnamed" for a in message.iter_attachments()]
    return _mail(filename, headers, body.replace("\r\n", "\n"), attachments)


def parse_msg(filename: str, data: bytes) -> ParsedDocument:
    import extract_msg

    message: Any = extract_msg.openMsg(data, delayAttachments=True)
    try:
        headers = {
            "From": message.sender or "",
            "To": message.to or "",
            "Cc": message.cc or "",
            "Date": str(message.date or ""),
            "Subject": message.subject or "",
        }
        body = message.body or ""
        if not body.strip() and message.htmlBody:
            html = message.htmlBody
            body = html_to_text(html.decode("utf-8", "replace") if isinstance(html, bytes) else html)
        attachments = [
            getattr(a, "longFilename", None) or getattr(a, "shortFilename", None) or "unnamed"
            for a in message.attachments
        ]
    finally:
        message.close()
    return _mail(
        filename, {k: " ".join(v.split()) for k, v in headers.items()}, body.replace("\r\n", "\n"), attachments
    )
