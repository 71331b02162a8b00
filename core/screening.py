"""What an answer's store policies did to it: passages the injection check flagged or withheld (and the note the
answer carries about them), and the safety filter's verdict on the answer itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import safety
from core.grounding import Grounding
from core.records import Hit, MessageStatus

if TYPE_CHECKING:
    from core.rag import Answer

WITHHELD_ALL = (
    "The passages found in {stores} were withheld from the model: {reasons}. The store's policy keeps text that "
    "reads as instructions to the assistant away from it, so I will not answer from them."
)
WITHHELD_NOTE = "\n\n(Left out: {count} from {files}, which read as instructions to the assistant: {reasons}.)"
BLOCKED = (
    "The answer was not shown: the safety filter found {category} in it. The store's policy blocks such answers; "
    "the decision is in the audit."
)
FLAGGED_NOTE = "\n\n(The safety filter flagged this answer: {category}. Check it against the sources.)"


@dataclass(frozen=True)
class Withheld:
    """A retrieved passage the store's injection check flagged: kept from the model (`withheld`) or only noted."""

    filename: str
    page: int | None
    store: str | None
    document_id: str
    chunk_index: int
    reason: str
    withheld: bool


def withheld(hits: Sequence[Hit]) -> list[Withheld]:
    """The hits the injection check flagged, as the answer reports them."""
    return [
        Withheld(h.filename, h.page, h.store, h.document_id, h.chunk_index, h.caution, h.withheld)
        for h in hits
        if h.caution
    ]


def all_withheld(found: Sequence[Withheld], stores: Sequence[str]) -> str:
    reasons = "; ".join(dict.fromkeys(w.reason for w in found))
    return WITHHELD_ALL.format(stores=", ".join(stores), reasons=reasons)


def note(answer: Answer) -> str:
    """The sentence an answer (or a refusal) ends with when passages were kept from the model ("" when none were)."""
    left_out = [w for w in answer.withheld if w.withheld]
    if not left_out or answer.status not in (MessageStatus.COMPLETE, MessageStatus.REFUSED) or answer.safety:
        return ""
    files = ", ".join(dict.fromkeys(w.filename + (f" p. {w.page}" if w.page is not None else "") for w in left_out))
    count = f"{len(left_out)} passage" + ("s" if len(left_out) > 1 else "")
    return WITHHELD_NOTE.format(count=count, files=files, reasons="; ".join(dict.fromkeys(w.reason for w in left_out)))


def guarded(answer: Answer, pieces: Iterator[str], guard: safety.Filter | None) -> Iterator[str]:
    """The answer's pieces through the safety filter: under `block` nothing is shown until the whole answer passed;
    under `flag` it streams and a flagged answer gets a note."""
    if guard is None:
        yield from pieces
        return
    if not guard.blocks:
        yield from pieces
        verdict = guard.judge(answer.text) if answer.status is MessageStatus.COMPLETE else safety.Verdict()
        if verdict.flagged:
            answer.safety = verdict.category
            note = FLAGGED_NOTE.format(category=verdict.category)
            answer.text += note
            yield note
        return
    try:
        for _ in pieces:  # held back: the reader sees nothing of an answer that may be blocked
            yield ""  # ... and a Stop still ends it between two pieces
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    if answer.status is not MessageStatus.COMPLETE:
        return
    verdict = guard.judge(answer.text) if answer.text else safety.Verdict()
    if verdict.flagged:
        answer.safety = verdict.category
        answer.text = BLOCKED.format(category=verdict.category)
        answer.citations, answer.refused, answer.status = [], True, MessageStatus.REFUSED
        answer.grounding = Grounding(True)
    yield answer.text
