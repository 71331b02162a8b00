"""`python -m core`: a thin command line over the Workbench for admins' bulk work and our own checks.

Exit codes: 0 success; 1 a plain-language error on stderr (bad input, unknown store, a file that
failed to ingest); 2 a malformed command line.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from core import terminal
from core.config import load_settings
from core.errors import InvalidInput, WorkbenchError
from core.evaluation import read_questions
from core.options import (
    DEFAULT_CANDIDATES,
    DEFAULT_TOP_K,
    AskOptions,
    ChunkSettings,
    Filters,
    Fusion,
    IngestOptions,
    Mode,
    Reranker,
    SearchOptions,
    Strategy,
)
from core.parsing.limits import read_file
from core.records import IngestStatus, Role
from core.redact import redact
from core.workbench import Workbench

log = logging.getLogger(__name__)
MAX_IMPORT_BYTES = 2**40  # an export holds a whole store: no upload limit, but still a regular file read in blocks


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--user", default=argparse.SUPPRESS, help="act as this user (default: the built-in admin)")
    common.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="data directory (default: $WORKBENCH_DATA_DIR or ./data)",
    )
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log what happens")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of text")

    parser = argparse.ArgumentParser(prog="python -m core", description="RAG Workbench command line.", parents=[common])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    store = commands.add_parser("store", help="create, list and delete stores").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = store.add_parser("create", parents=[common], help="create a store")
    create.add_argument("name")
    create.add_argument("--backend", help="storage backend (default: lancedb)")
    create.add_argument("--embedding", metavar="MODEL", help="embedding model (default: local/all-minilm-l6-v2)")
    _chunking_arguments(create, "the store's default")
    create.add_argument("--description", default="")
    store.add_parser("list", parents=[common, as_json], help="list the stores you may see")
    delete = store.add_parser("delete", parents=[common], help="delete a store and everything in it")
    delete.add_argument("name")
    rename = store.add_parser("rename", parents=[common], help="rename a store (owners)")
    rename.add_argument("name")
    rename.add_argument("new_name", metavar="NEW_NAME")
    export = store.add_parser(
        "export", parents=[common], help="write a store (texts, metadata, vectors) to a .parquet or .jsonl file"
    )
    export.add_argument("name")
    export.add_argument("file", type=Path)
    load = store.add_parser("import", parents=[common], help="recreate an exported store, without re-embedding")
    load.add_argument("file", type=Path)
    load.add_argument("--name", help="store name (default: the exported store's name)")
    load.add_argument("--backend", help="storage backend (default: lancedb)")

    ingest = commands.add_parser("ingest", parents=[common, as_json], help="add files (or folders) to a store")
    ingest.add_argument("store")
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _chunking_arguments(ingest, "the store's setting")
    ingest.add_argument(
        "--replace", action="store_true", help="a file with the name of a document already in the store replaces it"
    )
    ingest.add_argument(
        "--vision-model",
        metavar="MODEL",
        help="LiteLLM vision model that describes images (default: $WORKBENCH_VISION_MODEL)",
    )
    ingest.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata stored on every file of this upload (for --filter); repeatable",
    )
    ingest.add_argument("--vision-prompt", metavar="TEXT", help="what to ask the vision model about each image")

    show = commands.add_parser(
        "preview", parents=[common, as_json], help="show how a file would be parsed and chunked, writing nothing"
    )
    show.add_argument("file", type=Path)
    _chunking_arguments(show, "the workbench default")
    show.add_argument(
        "--embedding", metavar="MODEL", help="tokenizer for --chunking tokens (default: the default embedding model)"
    )

    search = commands.add_parser("search", parents=[common, as_json], help="search one store or several (kb1,kb2)")
    search.add_argument("store", help="a store, or several separated by commas")
    search.add_argument("query")
    _search_arguments(search)
    search.add_argument(
        "--embedding", metavar="MODEL", help="refuse to search unless the store was built with this model"
    )

    evaluate = commands.add_parser(
        "eval",
        parents=[common, as_json],
        help="score search settings on a question set: recall, MRR and nDCG at top-k",
        description="Run a question set (CSV: question, document, optional pages and text; or JSON lines) "
        "against a store and print recall@k, MRR@k and nDCG@k per setting, with the questions each one misses.",
    )
    evaluate.add_argument("store")
    evaluate.add_argument("questions", type=Path, help="a .csv or .jsonl question set")
    _search_arguments(evaluate)
    evaluate.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="OPTIONS",
        help="another setting over the first, e.g. 'mode=vector' or 'fusion=weighted weight=0.7'; repeatable",
    )

    ask = commands.add_parser(
        "ask", parents=[common, as_json], help="answer a question from the documents, with citations"
    )
    ask.add_argument("store", help="a store, or several separated by commas")
    ask.add_argument("question")
    ask.add_argument(
        "--model", help="chat model: a name from the model list or any LiteLLM model (default: $WORKBENCH_CHAT_MODEL)"
    )
    ask.add_argument("--temperature", type=float, default=0.2)
    ask.add_argument("--max-tokens", type=int, default=512)
    ask.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="sources given to the model")
    ask.add_argument("--mode", choices=[m.value for m in Mode], default=SearchOptions.mode.value)
    ask.add_argument("--rerank", default="none", metavar="RERANKER")
    ask.add_argument("--threshold", type=float, help="sources scoring below this are not used")
    ask.add_argument("--system-prompt", help="replace the default instructions (the rule that sources are data stays)")
    ask.add_argument(
        "--new", action="store_true", help="start a new conversation (default: continue the last one on these stores)"
    )

    documents = commands.add_parser(
        "documents", parents=[common, as_json], help="list a store's documents and their status"
    )
    documents.add_argument("store")

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = user.add_parser("add", parents=[common], help="add a user (administrators)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--password", action="store_true", help="read the user's password from standard input")
    user.add_parser("list", parents=[common, as_json], help="list users (administrators)")
    password = user.add_parser("password", parents=[common], help="set a password, read from standard input")
    password.add_argument("name")
    for verb in ("disable", "enable"):
        toggled = user.add_parser(verb, parents=[common], help=f"{verb} a user (administrators)")
        toggled.add_argument("name")

    grant = commands.add_parser("grant", parents=[common], help="give a user access to a store")
    grant.add_argument("store")
    grant.add_argument("name", metavar="USER")
    grant.add_argument(
        "--role",
        choices=["viewer", "editor", "owner", "read", "write"],
        default="viewer",
        help="viewer (search, chat), editor (also add and delete documents) or owner; read and write mean viewer and editor",
    )
    revoke = commands.add_parser("revoke", parents=[common], help="take a user's access to a store away")
    revoke.add_argument("store")
    revoke.add_argument("name", metavar="USER")

    document = commands.add_parser("document", help="act on one document").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    remove = document.add_parser("delete", parents=[common], help="delete one document and its chunks (editors)")
    remove.add_argument("store")
    remove.add_argument("id", help="the document's id (see `documents STORE --json`)")
    return parser


def _chunking_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--chunking", choices=[s.value for s in Strategy], help=f"chunking strategy (default: {default})"
    )
    parser.add_argument(
        "--chunk-size", type=int, help=f"characters (tokens for --chunking tokens) per chunk (default: {default})"
    )
    parser.add_argument(
        "--chunk-overlap", type=int, help=f"characters (or tokens) neighbouring chunks share (default: {default})"
    )


def _chunking(args: argparse.Namespace, base: ChunkSettings) -> ChunkSettings | None:
    """The chunk settings the arguments ask for on top of `base`, or None when they ask for nothing."""
    if args.chunking is None and args.chunk_size is None and args.chunk_overlap is None:
        return None
    return ChunkSettings(
        strategy=Strategy(args.chunking or base.strategy),
        size=base.size if args.chunk_size is None else args.chunk_size,
        overlap=base.overlap if args.chunk_overlap is None else args.chunk_overlap,
    )


def _pairs(pairs: Sequence[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"Metadata is written key=value (for example team=finance), not '{pair}'.")
        values[key.strip()] = value.strip()
    return values


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not verbose:  # libraries narrate recoverable trouble that our own messages already explain
        for noisy in ("pypdf", "LiteLLM", "litellm", "httpx", "sentence_transformers", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        overrides = {"data_dir": args.data_dir} if getattr(args, "data_dir", None) else {}
        workbench = Workbench(load_settings(**overrides))
        return _run(workbench, args)
    except WorkbenchError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130


def _run(wb: Workbench, args: argparse.Namespace) -> int:
    # no --user means the built-in admin; an empty or unknown --user is refused by core like any other
    user = args.user if "user" in args else wb.settings.admin_user
    command = COMMANDS[(args.command, getattr(args, "action", None))]
    return command(wb, args, user) or 0


def _store_create(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    store = wb.create_store(
        args.name,
        user=user,
        backend=args.backend,
        embedding=args.embedding,
        chunking=_chunking(args, wb.settings.chunking),
        description=args.description,
    )
    print(f"Created store '{store.name}' ({store.backend}, {store.embedding_model}, {store.embedding_dim} dimensions).")


def _store_list(wb: Workbench, args: argparse.Namespace, user: str) -> None:
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
        for s in wb.list_stores(user=user)
    ]
    terminal.print_rows(
        rows, as_json=args.json, empty="No stores yet. Create one with `python -m core store create NAME`."
    )


def _store_export(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    suffix = args.file.suffix.lower().lstrip(".")
    if suffix not in ("parquet", "jsonl"):
        raise InvalidInput(f"Export to a .parquet or .jsonl file, not '{args.file.name}'.")
    summary = wb.export_store(args.name, user=user, fmt=suffix)
    args.file.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(summary.path, args.file)
    print(f"Exported '{args.name}': {summary.documents} documents, {summary.chunks} chunks to {args.file}.")


def _store_import(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    imported = wb.import_store(
        read_file(args.file, max_bytes=MAX_IMPORT_BYTES),
        filename=args.file.name,
        name=args.name,
        backend=args.backend,
        user=user,
    )
    print(f"Imported '{imported.name}' into {imported.backend} ({imported.embedding_model}).")


def _store_rename(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    wb.rename_store(args.name, args.new_name, user=user)
    print(f"Renamed store '{args.name}' to '{args.new_name}'.")


def _store_delete(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    wb.delete_store(args.name, user=user)
    print(f"Deleted store '{args.name}'.")


def _ingest(wb: Workbench, args: argparse.Namespace, user: str) -> int:
    store = wb.store(args.store, user=user)
    options = IngestOptions(
        chunking=_chunking(args, store.chunking),
        replace=args.replace,
        metadata=_pairs(args.meta),
        parse=wb.parse_options(
            user=user, store=store.name, vision_model=args.vision_model, vision_prompt=args.vision_prompt
        ),
    )
    results = wb.ingest_paths(args.store, args.files, user=user, options=options)
    terminal.print_ingest(results, as_json=args.json)
    return 1 if any(r.status is IngestStatus.FAILED for r in results) else 0


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--top-k", type=int, default=DEFAULT_TOP_K, help=f"number of hits, 1 to 50 (default: {DEFAULT_TOP_K})"
    )
    parser.add_argument(
        "--mode", choices=[m.value for m in Mode], default=SearchOptions.mode.value, help="default: %(default)s"
    )
    parser.add_argument(
        "--fusion",
        choices=[f.value for f in Fusion],
        default=SearchOptions.fusion.value,
        help="how hybrid fuses the lists (default: %(default)s)",
    )
    parser.add_argument(
        "--weight",
        type=float,
        default=SearchOptions.weight,
        help="share of the vector score in weighted fusion, 0 to 1 (default: %(default)s)",
    )
    parser.add_argument(
        "--rerank",
        default="none",
        metavar="RERANKER",
        help="none, mmr, llm[:MODEL], litellm:MODEL or cross-encoder:PATH",
    )
    parser.add_argument("--threshold", type=float, help="drop hits whose score is below this")
    parser.add_argument(
        "--candidates",
        type=int,
        default=DEFAULT_CANDIDATES,
        help="pool per list for fusion and reranking (default: %(default)s)",
    )
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="document=NAME, type=pdf, after=DATE, before=DATE or any metadata key; repeatable",
    )


def _search_options(args: argparse.Namespace) -> SearchOptions:
    return SearchOptions(
        top_k=args.top_k,
        mode=Mode(args.mode),
        fusion=Fusion(args.fusion),
        weight=args.weight,
        threshold=args.threshold,
        candidates=args.candidates,
        rerank=Reranker.parse(args.rerank),
        filters=Filters.parse(args.filter),
    )


def _search(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    options = _search_options(args)
    hits = wb.search(args.store, args.query, user=user, options=options, embedding=args.embedding)
    terminal.print_hits(hits, as_json=args.json)


def _eval(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    questions = read_questions(read_file(args.questions, max_bytes=wb.settings.max_upload_bytes), args.questions.name)
    base = _search_options(args)
    name = f"mode={base.mode}" + (f" fusion={base.fusion}" if base.mode == "hybrid" else "")
    settings = {name + (f" rerank={base.rerank}" if str(base.rerank) != "none" else ""): base}
    for text in args.compare:
        settings[text] = SearchOptions.parse(text, **{**base.settings(), "filters": base.filters})
    progress = None if args.json else terminal.progress_line("questions")
    result = wb.evaluate(args.store, questions, settings, user=user, on_progress=progress)
    terminal.print_evaluation(result, as_json=args.json)


def _preview(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    result = wb.preview(
        args.file.name,
        read_file(args.file, max_bytes=wb.settings.max_upload_bytes),
        chunking=_chunking(args, wb.settings.chunking) or wb.settings.chunking,
        embedding=args.embedding,
        user=user,
    )
    terminal.print_preview(result, as_json=args.json)


def _ask(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    wanted = wb.store_names(args.store)
    conversation = None if args.new else wb.latest_conversation(wanted, user=user)
    options = AskOptions(
        model=args.model or "",
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        system_prompt=args.system_prompt,
        search=SearchOptions(
            top_k=args.top_k, mode=Mode(args.mode), rerank=Reranker.parse(args.rerank), threshold=args.threshold
        ),
    )
    stream, answer = wb.ask(wanted, args.question, user=user, conversation=conversation, options=options)
    if args.json:
        for _ in stream:
            pass
        print(json.dumps(terminal.answer_json(answer), ensure_ascii=False, indent=2))
        return
    for piece in stream:
        print(piece, end="", flush=True)
    print()
    terminal.print_sources(answer)


def _documents(wb: Workbench, args: argparse.Namespace, user: str) -> None:
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
        for d in wb.documents(args.store, user=user)
    ]
    terminal.print_rows(rows, as_json=args.json, empty=f"'{args.store}' has no documents yet.")


def _document_delete(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    wb.delete_document(args.store, args.id, user=user)
    print(f"Deleted document {args.id} from '{args.store}'.")


def _user_add(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    password = _new_password(args) if args.password else None
    created = wb.add_user(args.name, admin=args.admin, password=password, user=user)
    print(f"Added user '{created.name}'{' (admin)' if created.is_admin else ''}.")


def _user_list(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    rows = [
        {"name": u.name, "admin": u.is_admin, "disabled": u.disabled, "password": u.has_password}
        for u in wb.list_users(user=user)
    ]
    terminal.print_rows(rows, as_json=args.json, empty="No users.")


def _user_password(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    wb.set_password(args.name, _new_password(args), user=user)
    print(f"Set the password of '{args.name}'.")


def _user_enable(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    wb.set_disabled(args.name, args.action == "disable", user=user)
    print(f"{'Disabled' if args.action == 'disable' else 'Enabled'} user '{args.name}'.")


def _grant(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    granted = wb.grant(args.store, args.name, Role(args.role), user=user)
    print(f"'{granted.user}' may now {granted.role.verb} '{granted.store}'.")


def _revoke(wb: Workbench, args: argparse.Namespace, user: str) -> None:
    wb.revoke(args.store, args.name, user=user)
    print(f"'{args.name}' no longer has access to '{args.store}'.")


def _new_password(args: argparse.Namespace) -> str:
    """A password from standard input (never the command line, where other users could see it)."""
    line = sys.stdin.readline()
    if not line:
        raise InvalidInput(
            "Type the password on standard input, for example: echo 'a long secret' | python -m core ..."
        )
    return line.rstrip("\n")


Command = Callable[[Workbench, argparse.Namespace, str], "int | None"]
COMMANDS: dict[tuple[str, str | None], Command] = {
    ("store", "create"): _store_create,
    ("store", "list"): _store_list,
    ("store", "export"): _store_export,
    ("store", "import"): _store_import,
    ("store", "rename"): _store_rename,
    ("store", "delete"): _store_delete,
    ("ingest", None): _ingest,
    ("search", None): _search,
    ("eval", None): _eval,
    ("preview", None): _preview,
    ("ask", None): _ask,
    ("documents", None): _documents,
    ("document", "delete"): _document_delete,
    ("user", "add"): _user_add,
    ("user", "list"): _user_list,
    ("user", "password"): _user_password,
    ("user", "disable"): _user_enable,
    ("user", "enable"): _user_enable,
    ("grant", None): _grant,
    ("revoke", None): _revoke,
}
