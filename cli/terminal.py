"""What the command line prints: tables, hits, answers and ingest summaries as text, or as JSON with --json.

Text that came from users or files (names, snippets) is printed with control characters escaped, so a
file named with an escape sequence cannot rewrite the terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict

from core.answer_evaluation import AnswerEvaluation
from core.evaluation import Evaluation
from core.preview import Preview
from core.rag import Answer
from core.records import Citation, Hit, IngestResult, IngestStatus


def printable(value: object) -> str:
    """The text with every control character shown as an escape (\\n, \\x1b) instead of acting on the terminal."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def hit_json(hit: Hit) -> dict[str, object]:
    return asdict(hit)


def print_hits(hits: list[Hit], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        print("No matches.")
        return
    multi = len({h.store for h in hits}) > 1
    for rank, hit in enumerate(hits, start=1):
        where = hit.location or (f"p. {hit.page}" if hit.page is not None else (hit.heading or ""))
        snippet = " ".join(hit.text.split())
        store = f"[{hit.store}] " if multi else ""
        print(
            f"{rank:>2}. {hit.score:.3f}  {printable(store)}{printable(hit.filename)}  {printable(where)}  "
            f"(chunk {hit.chunk_index}){_why(hit)}"
        )
        print(f"    {printable(snippet[:240])}{'…' if len(snippet) > 240 else ''}")


def source_json(c: Citation) -> dict[str, object]:
    return {
        "n": c.n,
        "filename": c.filename,
        "page": c.page,
        "location": c.location,
        "snippet": c.snippet,
        "score": c.score,
        "store": c.store,
        "matched": c.matched,
        "supported": c.supported,
    }


def answer_json(answer: Answer) -> dict[str, object]:
    check = answer.grounding
    return {
        "answer": answer.text,
        "grounded": check.grounded if check else None,
        "unsupported": list(check.unsupported) if check else [],
        "refused": answer.refused,
        "mode": answer.mode.value,
        "check": check.as_record() if check else None,
        "conversation": answer.conversation_id,
        "status": answer.status.value,
        "sources_dropped": answer.sources_dropped,
        "withheld": [asdict(w) for w in answer.withheld],  # passages the store's injection check flagged
        "safety": answer.safety,
        "query": answer.query,
        "citations": [source_json(c) for c in answer.citations],
        "retrieved": [source_json(c) for c in answer.retrieved],
        "usage": {
            "model": answer.model,
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "cost": answer.cost,
            "latency_ms": round(answer.latency_ms, 1),
            "retrieval_ms": round(answer.retrieval_ms, 1),
        },
    }


def print_sources(answer: Answer) -> None:
    if answer.refused:
        return
    if answer.grounding is not None and not answer.grounding.grounded:
        print(f"\nWarning: {answer.grounding.summary()}")
    cited = {c.n for c in answer.citations}
    if answer.citations:
        how = " (matched by wording: the model cited nothing)" if answer.citations[0].matched else ""
        print(f"\nSources{how}:")
        for c in answer.citations:
            print(f"  [{c.n}] {c.filename}  {c.location or ''}  {c.snippet[:100]}…")
    unused = [c for c in answer.retrieved if c.n not in cited]
    if unused:
        print(
            "Also retrieved, not cited: "
            + ", ".join(f"[{c.n}] {c.filename} {c.location or ''}".strip() for c in unused)
        )


def print_preview(result: Preview, *, as_json: bool) -> None:
    if as_json:
        chunks = [
            {
                "chunk_index": c.chunk_index,
                "start": c.start,
                "end": c.end,
                "page": c.page,
                "location": c.location,
                "heading": c.heading,
                "text": c.content,
            }
            for c in result.chunks
        ]
        print(
            json.dumps(
                {
                    "filename": result.parsed.filename,
                    "pages": result.parsed.page_count,
                    "characters": len(result.parsed.text),
                    "warnings": list(result.parsed.warnings),
                    "chunks": chunks,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    settings = result.settings
    print(
        f"{result.parsed.filename}: {len(result.parsed.text):,} characters, {len(result.chunks)} chunks ({settings.strategy.value}, {settings.size}/{settings.overlap} {settings.unit})"
    )
    for warning in result.parsed.warnings:
        print(f"  warning: {warning}")
    for chunk in result.chunks:
        snippet = " ".join(chunk.content.split())
        print(
            f"#{chunk.chunk_index:<4} {chunk.location or '':<28} {len(chunk.content):>5} chars  {snippet[:80]}{'…' if len(snippet) > 80 else ''}"
        )


def _why(hit: Hit) -> str:
    """The score breakdown in a few words: each list's rank and score, and the reranker's score."""
    b = hit.breakdown
    if b is None:
        return ""
    parts = []
    if b.vector_rank is not None and b.vector is not None:
        parts.append(f"vector #{b.vector_rank} {b.vector:.3f}")
    if b.keyword_rank is not None and b.keyword is not None:
        parts.append(f"keyword #{b.keyword_rank} {b.keyword:.2f}")
    if b.rerank is not None:
        parts.append(f"rerank {b.rerank:.3f}")
    return f"  [{', '.join(parts)}]" if parts else ""


def print_ingest(results: list[IngestResult], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2))
        return
    for r in results:
        name = printable(r.filename)
        if r.status is IngestStatus.WRITTEN:
            pages = f", {r.pages} pages" if r.pages else ""
            print(f"{name}: {r.chunks} chunks written{pages}")
        elif r.status is IngestStatus.DUPLICATE:
            print(f"{name}: skipped: {printable(r.error)}")
        elif r.status is IngestStatus.CANCELLED:
            print(f"{name}: cancelled before it was complete; nothing of it was kept")
        else:
            print(f"{name}: failed: {printable(r.error)}")
        for warning in r.warnings:
            print(f"  warning: {warning}")
    counts = {s: sum(1 for r in results if r.status is s) for s in IngestStatus}
    print(
        f"{len(results)} file(s): {counts[IngestStatus.WRITTEN]} written, "
        f"{counts[IngestStatus.DUPLICATE]} skipped as duplicates, {counts[IngestStatus.FAILED]} failed.",
        file=sys.stderr,
    )


def print_rows(rows: Sequence[Mapping[str, object]], *, as_json: bool, empty: str) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        print(empty)
        return
    headers = list(rows[0])
    cells = [{h: printable(r[h]) for h in headers} for r in rows]
    widths = {h: max(len(h), *(len(r[h]) for r in cells)) for h in headers}
    print("  ".join(h.ljust(widths[h]) for h in headers).rstrip())
    for row in cells:
        print("  ".join(row[h].ljust(widths[h]) for h in headers).rstrip())


def progress_line(what: str) -> Callable[[int, int], None]:
    """A one-line counter on stderr ('12/36 questions'), rewritten in place; stdout stays clean."""

    def show(done: int, total: int) -> None:
        print(f"\r{done}/{total} {what}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    return show


def print_answer_evaluation(result: AnswerEvaluation, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    print("\nAnswers (shares of the questions; key fact only over questions with an expected answer):")
    print_rows(result.table(), as_json=False, empty="No answer setting was run.")


def print_evaluation(result: Evaluation, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    rows = [{**row, f"recall@{result.k}": f"{row[f'recall@{result.k}']:.2f}"} for row in result.table()]
    print_rows(rows, as_json=False, empty="No setting was run.")
    differences = result.differences()
    if differences:
        print("\nQuestions found by some settings and missed by others (rank of the first relevant hit):")
        print_rows(differences, as_json=False, empty="")
    for setting in result.results:
        missed = [q for q in setting.questions if not q.hit]
        if missed:
            print(f"\nMissed with '{setting.name}' ({len(missed)} of {len(setting.questions)}):")
            for q in missed:
                where = f" p. {', '.join(map(str, q.question.pages))}" if q.question.pages else ""
                found = "; ".join(q.found[:3]) or "nothing"
                print(
                    f"  - {printable(q.question.question)} [{printable(q.question.document)}{where}] got: {printable(found)}"
                )
