"""One function per command: read the arguments, make one call into core as the acting user, print the result."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Sequence

from cli import models, policies, terminal
from core import glossary
from core.catalog import now
from core.errors import InvalidInput
from core.evaluation import read_questions
from core.options import (
    SETTING_NAMES,
    AnswerMode,
    AskOptions,
    ChunkSettings,
    Filters,
    IngestOptions,
    SearchOptions,
    Strategy,
)
from core.parsing.limits import read_file
from core.records import Actor, IngestStatus, Role
from core.workbench import Workbench
from core.workbench.services import store_names

MAX_IMPORT_BYTES = 2**40  # an export holds a whole store: no upload limit, but still a regular file read in blocks


def store_create(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    chunking = chunk_settings(args, wb.settings.chunking)
    store = wb.stores.create(
        me, args.name, backend=args.backend, embedding=args.embedding, chunking=chunking, description=args.description
    )
    print(f"Created store '{store.name}' ({store.backend}, {store.embedding_model}, {store.embedding_dim} dimensions).")


def store_list(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    rows = [
        {
            "name": s.store.name,
            "backend": s.store.backend,
            "embedding": s.store.embedding_model,
            "documents": s.documents,
            "chunks": s.chunks,
            "owner": s.store.owner,
            "role": s.role.value,
            "created": s.store.created_at.strftime("%Y-%m-%d %H:%M"),
        }
        for s in wb.stores.visible(me)
    ]
    terminal.print_rows(
        rows, as_json=args.json, empty="No stores yet. Create one with `python -m core store create NAME`."
    )


def store_export(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    suffix = args.file.suffix.lower().lstrip(".")
    if suffix not in ("parquet", "jsonl"):
        raise InvalidInput(f"Export to a .parquet or .jsonl file, not '{args.file.name}'.")
    summary = wb.stores.export(me, args.name, fmt=suffix)
    args.file.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(summary.path, args.file)
    print(f"Exported '{args.name}': {summary.documents} documents, {summary.chunks} chunks to {args.file}.")


def store_import(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    data = read_file(args.file, max_bytes=MAX_IMPORT_BYTES)
    imported = wb.stores.import_(me, data, filename=args.file.name, name=args.name, backend=args.backend)
    print(f"Imported '{imported.name}' into {imported.backend} ({imported.embedding_model}).")


def store_rename(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    wb.stores.rename(me, args.name, args.new_name)
    print(f"Renamed store '{args.name}' to '{args.new_name}'.")


def store_redact(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    store = wb.stores.set_redaction(me, args.name, args.state == "on")
    if store.redact_personal_data:
        print(f"'{store.name}': e-mails, phones, cards, IBANs and national ids are replaced before text leaves for a remote model.")  # fmt: skip
    else:
        print(f"'{store.name}': texts are sent to remote models as they are.")


def store_ocr(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    store = wb.stores.set_ocr(me, args.name, "" if args.mode == "default" else args.mode)
    said = {"auto": "pages with no text layer and images are read by OCR", "always": "every page is read by OCR",
            "never": "nothing is read by OCR", "": f"OCR follows the server's setting ({wb.settings.ocr})"}  # fmt: skip
    print(f"'{store.name}': {said[store.ocr]}.")


def store_glossary(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    if args.file is not None:
        text = read_file(args.file, max_bytes=1_000_000).decode("utf-8", errors="replace")
        store = wb.stores.set_glossary(me, args.name, text)
        print(f"'{store.name}' has {len(store.glossary)} measure{'s' * (len(store.glossary) != 1)} of its own.")
        return
    store = wb.stores.get(me, args.name)
    print(
        glossary.format_terms(store.glossary) or f"'{store.name}' has no measures of its own; the built-in ones apply."
    )


def store_delete(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    wb.stores.delete(me, args.name)
    print(f"Deleted store '{args.name}'.")


def grant(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    granted = wb.stores.grant(me, args.store, args.name, Role(args.role))
    print(f"'{granted.user}' may now {granted.role.verb} '{granted.store}'.")


def revoke(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    wb.stores.revoke(me, args.store, args.name)
    print(f"'{args.name}' no longer has access to '{args.store}'.")


def ingest(wb: Workbench, args: argparse.Namespace, me: Actor) -> int:
    store = wb.stores.get(me, args.store)
    parse = wb.documents.parse_options(
        me, store.name, vision_model=args.vision_model, vision_prompt=args.vision_prompt, ocr=args.ocr
    )
    chunking = chunk_settings(args, store.chunking)
    options = IngestOptions(chunking=chunking, replace=args.replace, metadata=pairs(args.meta), parse=parse)
    results = wb.documents.ingest_paths(me, args.store, args.files, options=options)
    terminal.print_ingest(results, as_json=args.json)
    return 1 if any(r.status is IngestStatus.FAILED for r in results) else 0


def preview(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    data = read_file(args.file, max_bytes=wb.settings.max_upload_bytes)
    chunking = chunk_settings(args, wb.settings.chunking) or wb.settings.chunking
    result = wb.documents.preview(me, args.file.name, data, chunking=chunking, embedding=args.embedding)
    terminal.print_preview(result, as_json=args.json)


def documents(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    rows: list[dict[str, object]] = [
        {
            "id": d.id,
            "filename": d.filename,
            "status": d.status.value,
            "chunks": d.chunk_count,
            "pages": d.page_count if d.page_count is not None else "",
            "size": d.size_bytes,
            "uploaded_by": d.uploaded_by,
            "error": d.error or "",
        }
        for d in wb.documents.of(me, args.store)
    ]
    terminal.print_rows(rows, as_json=args.json, empty=f"'{args.store}' has no documents yet.")


def document_delete(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    wb.documents.delete(me, args.store, args.id)
    print(f"Deleted document {args.id} from '{args.store}'.")


def search(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    options = search_options(wb, args, me)
    hits = wb.search.run(me, args.store, args.query, options=options, embedding=args.embedding)
    terminal.print_hits(hits, as_json=args.json)


def evaluate(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    questions = read_questions(read_file(args.questions, max_bytes=wb.settings.max_upload_bytes), args.questions.name)
    base = search_options(wb, args, me)
    name = f"mode={base.mode}" + (f" fusion={base.fusion}" if base.mode == "hybrid" else "")
    settings = {name + (f" rerank={base.rerank}" if str(base.rerank) != "none" else ""): base}
    for text in args.compare:
        settings[text] = SearchOptions.parse(text, **{**base.settings(), "filters": base.filters})
    progress = None if args.json else terminal.progress_line("questions")
    result = wb.evaluations.run(me, args.store, questions, settings, on_progress=progress)
    if not args.answers:
        terminal.print_evaluation(result, as_json=args.json)
        return
    modes = {f"answers: {mode}": AskOptions(model=args.model or "", mode=AnswerMode(mode), search=base)
             for mode in dict.fromkeys(args.answers)}  # fmt: skip
    progress = None if args.json else terminal.progress_line("answers")
    answers = wb.evaluations.run_answers(me, args.store, questions, modes, on_progress=progress)
    if args.json:
        print(json.dumps({**result.to_json(), "answers": answers.to_json()["settings"]}, ensure_ascii=False, indent=2))
        return
    terminal.print_evaluation(result, as_json=False)
    terminal.print_answer_evaluation(answers, as_json=False)


def ask(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    conversation = None if args.new else wb.chat.latest(me, args.store)
    answer_settings = {"temperature": args.temperature, "max_tokens": args.max_tokens}
    options = AskOptions(
        model=args.model or "",
        mode=AnswerMode(args.answer),
        system_prompt=args.system_prompt,
        search=search_options(wb, args, me),
        **answer_settings,
    )
    stream, answer = wb.chat.ask(me, args.store, args.question, conversation=conversation, options=options)
    if args.json:
        for _ in stream:
            pass
        print(json.dumps(terminal.answer_json(answer), ensure_ascii=False, indent=2))
        return
    for piece in stream:
        print(piece, end="", flush=True)
    print()
    terminal.print_sources(answer)


def user_add(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    password = new_password() if args.password else None
    created = wb.users.add(me, args.name, admin=args.admin, password=password)
    print(f"Added user '{created.name}'{' (admin)' if created.is_admin else ''}.")


def user_list(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    rows = [
        {"name": u.name, "admin": u.is_admin, "disabled": u.disabled, "password": u.has_password}
        for u in wb.users.all(me)
    ]
    terminal.print_rows(rows, as_json=args.json, empty="No users.")


def user_password(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    wb.users.set_password(me, args.name, new_password())
    print(f"Set the password of '{args.name}'.")


def user_enable(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    wb.users.set_disabled(me, args.name, args.action == "disable")
    print(f"{'Disabled' if args.action == 'disable' else 'Enabled'} user '{args.name}'.")


def key_create(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    made = wb.keys.create(me, args.name, expires_days=args.expires)
    if args.json:
        print(json.dumps({"key": made.secret, "id": made.key.id, "name": made.key.name, "user": made.key.user}))
        return
    until = f", until {made.key.expires_at:%Y-%m-%d}" if made.key.expires_at else ""
    print(f"API key '{made.key.name}' for {made.key.user} ({made.key.id}{until}). It is shown only now:")
    print(made.secret)


def key_list(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    at = now()
    rows = [
        {
            "id": k.id,
            "user": k.user,
            "name": k.name,
            "prefix": k.prefix,
            "state": k.state(at),
            "created": f"{k.created_at:%Y-%m-%d %H:%M}",
            "expires": f"{k.expires_at:%Y-%m-%d}" if k.expires_at else "",
            "last used": f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "",
        }
        for k in (wb.keys.all(me) if args.all else wb.keys.mine(me))
    ]
    terminal.print_rows(rows, as_json=args.json, empty="No API keys.")


def key_revoke(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    key = wb.keys.revoke(me, args.key_id)
    print(f"Revoked API key '{key.name}' ({key.id}) of {key.user}.")


def search_options(wb: Workbench, args: argparse.Namespace, me: Actor) -> SearchOptions:
    """The first store's saved search settings, with the ones given on the command line over them."""
    saved = wb.stores.search_defaults(me, store_names(args.store)[0]).settings()
    given = {name: getattr(args, name) for name in SETTING_NAMES if name in args}  # the options this parser offers
    return SearchOptions.from_settings({**saved, **given, "filters": Filters.parse(args.filter)})


def chunk_settings(args: argparse.Namespace, base: ChunkSettings) -> ChunkSettings | None:
    """The chunk settings the arguments ask for on top of `base`, or None when they ask for nothing."""
    if args.chunking is None and args.chunk_size is None and args.chunk_overlap is None:
        return None
    return ChunkSettings(
        strategy=Strategy(args.chunking or base.strategy),
        size=base.size if args.chunk_size is None else args.chunk_size,
        overlap=base.overlap if args.chunk_overlap is None else args.chunk_overlap,
    )


def pairs(items: Sequence[str]) -> dict[str, str]:
    values = {}
    for pair in items:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"Metadata is written key=value (for example team=finance), not '{pair}'.")
        values[key.strip()] = value.strip()
    return values


def new_password() -> str:
    """A password from standard input (never the command line, where other users could see it)."""
    line = sys.stdin.readline()
    if not line:
        raise InvalidInput(
            "Type the password on standard input, for example: echo 'a long secret' | python -m core ..."
        )
    return line.rstrip("\n")


Command = Callable[[Workbench, argparse.Namespace, Actor], "int | None"]
COMMANDS: dict[tuple[str, str | None], Command] = {
    ("store", "create"): store_create,
    ("store", "list"): store_list,
    ("store", "export"): store_export,
    ("store", "import"): store_import,
    ("store", "rename"): store_rename,
    ("store", "redact"): store_redact,
    ("store", "glossary"): store_glossary,
    ("store", "delete"): store_delete,
    ("grant", None): grant,
    ("revoke", None): revoke,
    ("ingest", None): ingest,
    ("preview", None): preview,
    ("documents", None): documents,
    ("document", "delete"): document_delete,
    ("search", None): search,
    ("eval", None): evaluate,
    ("ask", None): ask,
    ("user", "add"): user_add,
    ("user", "list"): user_list,
    ("user", "password"): user_password,
    ("user", "disable"): user_enable,
    ("user", "enable"): user_enable,
    ("store", "ocr"): store_ocr,
    ("key", "create"): key_create,
    ("key", "list"): key_list,
    ("key", "revoke"): key_revoke,
    **models.COMMANDS,
    **policies.COMMANDS,
}
