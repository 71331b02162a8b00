"""Catalog queries: conversations and their messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.catalog.rows import conversation_of, link_stores, linked_names, message_of, new_id, new_key, now, title_of
from core.catalog.schema import chat_messages, conversation_stores, conversations
from core.errors import NotFound
from core.records import ChatMessage, Conversation, Store
from core.redact import redact_optional


class ConversationQueries:
    engine: Engine

    def create_conversation(self, *, user: str, title: str, stores: Sequence[Store], options: Mapping[str, Any]) -> str:
        conversation_id, created = new_id(), now()
        with self.engine.begin() as conn:
            conn.execute(
                conversations.insert().values(
                    id=conversation_id,
                    user_name=user,
                    title=title_of(title),
                    options=dict(options),
                    created_at=created,
                    updated_at=created,
                )
            )
            link_stores(conn, conversation_id, stores)
        return conversation_id

    def get_conversation(self, conversation_id: str, *, user: str) -> Conversation:
        """The user's own conversation; anyone else's reads as missing."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(conversations).where(
                        conversations.c.id == conversation_id, conversations.c.user_name == user
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound("There is no such conversation; it may have been deleted.")
            return conversation_of(row, linked_names(conn, [conversation_id])[conversation_id])

    def list_conversations(self, *, user: str, limit: int | None = None) -> list[Conversation]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(conversations)
                    .where(conversations.c.user_name == user)
                    .order_by(conversations.c.updated_at.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
            names = linked_names(conn, [r["id"] for r in rows])
        return [conversation_of(r, names[r["id"]]) for r in rows]

    def update_conversation(
        self,
        conversation_id: str,
        *,
        title: str | None = None,
        stores: Sequence[Store] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, object] = {"updated_at": now()}
        if title is not None:
            values["title"] = title_of(title)
        if options is not None:
            values["options"] = dict(options)
        with self.engine.begin() as conn:
            conn.execute(conversations.update().where(conversations.c.id == conversation_id).values(**values))
            if stores is not None:
                conn.execute(
                    conversation_stores.delete().where(conversation_stores.c.conversation_id == conversation_id)
                )
                link_stores(conn, conversation_id, stores)

    def delete_conversation(self, conversation_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(chat_messages.delete().where(chat_messages.c.conversation_id == conversation_id))
            conn.execute(conversation_stores.delete().where(conversation_stores.c.conversation_id == conversation_id))
            conn.execute(conversations.delete().where(conversations.c.id == conversation_id))

    def add_messages(self, conversation_id: str, entries: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append messages (role, content and optional status, citations, sources, model, error); their ids."""
        ids = []
        with self.engine.begin() as conn:
            for entry in entries:
                result = conn.execute(
                    chat_messages.insert().values(
                        conversation_id=conversation_id,
                        created_at=now(),
                        **{**entry, "error": redact_optional(entry.get("error"))},
                    )
                )
                ids.append(new_key(result))
            conn.execute(conversations.update().where(conversations.c.id == conversation_id).values(updated_at=now()))
        return ids

    def messages(self, conversation_id: str) -> list[ChatMessage]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(chat_messages)
                .where(chat_messages.c.conversation_id == conversation_id)
                .order_by(chat_messages.c.id)
            ).mappings()
            return [message_of(r) for r in rows]

    def set_feedback(self, message_id: int, *, user: str, rating: int, comment: str) -> None:
        """Feedback on an assistant message of the user's own conversation."""
        owned = (
            sa.select(chat_messages.c.id)
            .join(conversations, conversations.c.id == chat_messages.c.conversation_id)
            .where(
                chat_messages.c.id == message_id,
                chat_messages.c.role == "assistant",
                conversations.c.user_name == user,
            )
        )
        with self.engine.begin() as conn:
            if conn.execute(owned).first() is None:
                raise NotFound("There is no such answer to rate; it may have been deleted.")
            conn.execute(
                chat_messages.update()
                .where(chat_messages.c.id == message_id)
                .values(feedback=rating, feedback_comment=comment)
            )
