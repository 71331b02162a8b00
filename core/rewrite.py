"""Query rewriting: a question in the analyst's words ("capex") searched also in the words a document prints
("purchases of property, plant and equipment"). Optional and off by default; it needs a capable chat model, so
the bundled 135M model is never used for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import llm
from core.errors import InvalidInput

LOCAL_PREFIX = llm.LOCAL_PROVIDER + "/"
MAX_REWRITE_CHARS = 400
INSTRUCTIONS = (
    "You turn a question into a search query for the documents that answer it. Write the words those documents "
    "print: the names of statements, sections and line items, and for a derived measure the lines it is computed "
    "from. Keep every company name, year, period and figure of the question. Answer with the query alone, on one "
    "line, without explanation."
)

UsageRecorder = Callable[[str, str, Any], None]  # (kind, model, response)


def rewrite_model(judge_model: str, chat_model: str) -> str:
    """The model that rewrites: the judge model if one is set, else the chat model unless it is the bundled one."""
    for model in (judge_model, chat_model):
        if model and not model.startswith(LOCAL_PREFIX):
            return model
    return ""


def rewritten(
    query: str,
    model: str,
    *,
    resolve: Callable[[str], tuple[str, dict[str, Any]]] = lambda name: (name, {}),
    on_usage: UsageRecorder | None = None,
) -> str:
    """The question in the documents' words ('' when the model gave nothing usable)."""
    if not model:
        raise InvalidInput(
            "Rewriting questions needs a chat model other than the bundled one: set WORKBENCH_JUDGE_MODEL or "
            "WORKBENCH_CHAT_MODEL to a configured model, or turn rewriting off."
        )
    target, params = resolve(model)
    messages = [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": query}]
    response = llm.complete(target, messages, params={**params, "temperature": 0, "max_tokens": 120})
    if on_usage:
        on_usage("rewrite", model, response)
    line = next((s.strip() for s in response.text.splitlines() if s.strip()), "")
    line = line.removeprefix("Query:").strip().strip('"')
    return "" if line.lower() == query.strip().lower() else line[:MAX_REWRITE_CHARS]
