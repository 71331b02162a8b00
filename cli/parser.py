"""The command line's grammar: one small builder per group of commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli import models, policies
from core.options import MAX_TOP_K, AnswerMode, Fusion, Mode, SearchOptions, Strategy, Unit

DEFAULTS = SearchOptions()  # what a setting left out falls back to when the store has saved none


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
    for build in (_stores, _files, _searching, _asking, _users):
        build(commands, [common], [common, as_json])
    return parser


Parents = list[argparse.ArgumentParser]


def _stores(commands: argparse._SubParsersAction, plain: Parents, listed: Parents) -> None:  # type: ignore[type-arg]
    store = commands.add_parser("store", help="create, list and delete stores").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = store.add_parser("create", parents=plain, help="create a store")
    create.add_argument("name")
    create.add_argument("--backend", help="storage backend (default: lancedb)")
    create.add_argument("--embedding", metavar="MODEL", help="embedding model (default: local/all-minilm-l6-v2)")
    chunking_arguments(create, "the store's default")
    create.add_argument("--description", default="")
    store.add_parser("list", parents=listed, help="list the stores you may see")
    store.add_parser("delete", parents=plain, help="delete a store and everything in it").add_argument("name")
    rename = store.add_parser("rename", parents=plain, help="rename a store (owners)")
    rename.add_argument("name")
    rename.add_argument("new_name", metavar="NEW_NAME")
    redact = store.add_parser(
        "redact", parents=plain, help="keep personal data from remote models for a store, or stop (owners)"
    )
    redact.add_argument("name")
    redact.add_argument("state", choices=["on", "off"])
    scans = store.add_parser("ocr", parents=plain, help="how a store's scanned pages are read (owners)")
    scans.add_argument("name")
    scans.add_argument("mode", choices=["auto", "always", "never", "default"],
                       help="auto: pages with no text layer; default: the server's WORKBENCH_OCR")  # fmt: skip
    policies.arguments(store, plain)
    terms = store.add_parser(
        "glossary",
        parents=plain,
        help="show a store's own analyst measures, or set them from a file (owners)",
        description="Questions naming a measure are also searched in its line items' words. Without --file the "
        "store's terms are shown; with it, they are replaced by the file's lines 'measure = line item; line item' "
        "(an empty file removes them). Built-in measures (capex, EBITDA, quick ratio, ...) need no entry.",
    )
    terms.add_argument("name")
    terms.add_argument("--file", type=Path, help="a text file of 'measure = line item; line item' lines")
    export = store.add_parser(
        "export", parents=plain, help="write a store (texts, metadata, vectors) to a .parquet or .jsonl file"
    )
    export.add_argument("name")
    export.add_argument("file", type=Path)
    load = store.add_parser("import", parents=plain, help="recreate an exported store, without re-embedding")
    load.add_argument("file", type=Path)
    load.add_argument("--name", help="store name (default: the exported store's name)")
    load.add_argument("--backend", help="storage backend (default: lancedb)")
    grant = commands.add_parser("grant", parents=plain, help="give a user access to a store")
    grant.add_argument("store")
    grant.add_argument("name", metavar="USER")
    grant.add_argument(
        "--role",
        choices=["viewer", "editor", "owner", "read", "write"],
        default="viewer",
        help="viewer (search, chat), editor (also add and delete documents) or owner; read and write mean viewer and editor",
    )
    revoke = commands.add_parser("revoke", parents=plain, help="take a user's access to a store away")
    revoke.add_argument("store")
    revoke.add_argument("name", metavar="USER")


def _files(commands: argparse._SubParsersAction, plain: Parents, listed: Parents) -> None:  # type: ignore[type-arg]
    ingest = commands.add_parser("ingest", parents=listed, help="add files (or folders) to a store")
    ingest.add_argument("store")
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    chunking_arguments(ingest, "the store's setting")
    ingest.add_argument(
        "--replace", action="store_true", help="a file with the name of a document already in the store replaces it"
    )
    ingest.add_argument(
        "--ocr", choices=["auto", "always", "never"], help="scanned pages read by OCR (default: the store's choice)"
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
        "preview", parents=listed, help="show how a file would be parsed and chunked, writing nothing"
    )
    show.add_argument("file", type=Path)
    chunking_arguments(show, "the workbench default")
    show.add_argument(
        "--embedding", metavar="MODEL", help="tokenizer for --chunking tokens (default: the default embedding model)"
    )
    documents = commands.add_parser("documents", parents=listed, help="list a store's documents and their status")
    documents.add_argument("store")
    document = commands.add_parser("document", help="act on one document").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    remove = document.add_parser("delete", parents=plain, help="delete one document and its chunks (editors)")
    remove.add_argument("store")
    remove.add_argument("id", help="the document's id (see `documents STORE --json`)")


def _searching(commands: argparse._SubParsersAction, plain: Parents, listed: Parents) -> None:  # type: ignore[type-arg]
    search = commands.add_parser("search", parents=listed, help="search one store or several (kb1,kb2)")
    search.add_argument("store", help="a store, or several separated by commas")
    search.add_argument("query")
    search_arguments(search)
    search.add_argument(
        "--embedding", metavar="MODEL", help="refuse to search unless the store was built with this model"
    )
    evaluate = commands.add_parser(
        "eval",
        parents=listed,
        help="score search settings on a question set: recall, MRR and nDCG at top-k",
        description="Run a question set (CSV: question, document, optional pages and text; or JSON lines) "
        "against a store and print recall@k, MRR@k and nDCG@k per setting, with the questions each one misses.",
    )
    evaluate.add_argument("store")
    evaluate.add_argument("questions", type=Path, help="a .csv or .jsonl question set")
    search_arguments(evaluate)
    evaluate.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="OPTIONS",
        help="another setting over the first, e.g. 'mode=vector' or 'fusion=weighted weight=0.7'; repeatable",
    )
    evaluate.add_argument(
        "--answers",
        action="append",
        default=[],
        choices=["auto", "extractive", "generative"],
        help="also ask every question in this answer mode (with the first setting's search) and score the answers "
        "against the set's expected `answer`: key fact, evidence cited, grounded, computed and verified, refused; "
        "repeatable",
    )
    evaluate.add_argument("--model", help="the chat model answers are written with (default: $WORKBENCH_CHAT_MODEL)")


def _asking(commands: argparse._SubParsersAction, plain: Parents, listed: Parents) -> None:  # type: ignore[type-arg]
    ask = commands.add_parser("ask", parents=listed, help="answer a question from the documents, with citations")
    ask.add_argument("store", help="a store, or several separated by commas")
    ask.add_argument("question")
    ask.add_argument(
        "--model", help="chat model: a name from the model list or any LiteLLM model (default: $WORKBENCH_CHAT_MODEL)"
    )
    ask.add_argument(
        "--answer",
        choices=[m.value for m in AnswerMode],
        default=AnswerMode.AUTO.value,
        help="extractive quotes the sources; generative has the model write (auto: extractive with the bundled model)",
    )
    ask.add_argument("--temperature", type=float, default=0.2)
    ask.add_argument("--max-tokens", type=int, default=512)
    search_arguments(ask, sources=True)
    ask.add_argument("--system-prompt", help="replace the default instructions (the rule that sources are data stays)")
    ask.add_argument(
        "--new", action="store_true", help="start a new conversation (default: continue the last one on these stores)"
    )


def _users(commands: argparse._SubParsersAction, plain: Parents, listed: Parents) -> None:  # type: ignore[type-arg]
    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = user.add_parser("add", parents=plain, help="add a user (administrators)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--password", action="store_true", help="read the user's password from standard input")
    user.add_parser("list", parents=listed, help="list users (administrators)")
    user.add_parser("password", parents=plain, help="set a password, read from standard input").add_argument("name")
    for verb in ("disable", "enable"):
        user.add_parser(verb, parents=plain, help=f"{verb} a user (administrators)").add_argument("name")
    key = commands.add_parser("key", help="API keys for other programs").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = key.add_parser("create", parents=listed, help="make an API key for --user (printed once)")
    create.add_argument("--name", default="", metavar="LABEL", help="what the key is for (default: its date)")
    create.add_argument("--expires", type=int, metavar="DAYS", help="days until it stops working (default: never)")
    listing = key.add_parser("list", parents=listed, help="list your keys (--all: everyone's, administrators)")
    listing.add_argument("--all", action="store_true", help="every user's keys (administrators)")
    key.add_parser("revoke", parents=plain, help="stop a key at once").add_argument("key_id", metavar="KEY_ID")
    models.arguments(commands, plain, listed)


def chunking_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--chunking", choices=[s.value for s in Strategy], help=f"chunking strategy (default: {default})"
    )
    parser.add_argument(
        "--chunk-size", type=int, help=f"characters (tokens for --chunking tokens) per chunk (default: {default})"
    )
    parser.add_argument(
        "--chunk-overlap", type=int, help=f"characters (or tokens) neighbouring chunks share (default: {default})"
    )


def search_arguments(parser: argparse.ArgumentParser, *, sources: bool = False) -> None:
    """The search settings, each left out unless given: the store's saved settings fill the rest."""
    saved = "the store's saved setting, else %s"
    what = "sources given to the model" if sources else "number of hits"
    add = parser.add_argument
    add("--top-k", type=int, default=argparse.SUPPRESS, help=f"{what}, 1 to {MAX_TOP_K} ({saved % DEFAULTS.top_k})")
    add("--mode", choices=[m.value for m in Mode], default=argparse.SUPPRESS, help=saved % DEFAULTS.mode)
    add("--fusion", choices=[f.value for f in Fusion], default=argparse.SUPPRESS, help="how hybrid fuses the lists (%s)" % (saved % DEFAULTS.fusion))  # fmt: skip
    add("--weight", type=_weight, default=argparse.SUPPRESS, help="share of the vector score in weighted fusion, 0 to 1, or auto: fitted to the store's documents (%s)" % (saved % "auto"))  # fmt: skip
    add("--unit", choices=[u.value for u in Unit], default=argparse.SUPPRESS, help="page: one result per page, scored by its best passage; chunk: every passage (%s)" % (saved % DEFAULTS.unit))  # fmt: skip
    add("--rewrite", action="store_true", default=argparse.SUPPRESS, help="also search the question as a chat model rewrites it in the documents' words (needs WORKBENCH_JUDGE_MODEL or a non-bundled chat model)")  # fmt: skip
    add("--rerank", default=argparse.SUPPRESS, metavar="RERANKER", help="none, mmr, llm[:MODEL], litellm:MODEL or cross-encoder:PATH")  # fmt: skip
    add("--threshold", type=float, default=argparse.SUPPRESS, help="drop hits whose score is below this")
    add("--min-relevance", type=float, dest="min_relevance", default=argparse.SUPPRESS,
        help="ask: answer only when the best match's cosine reaches this (default: the embedding model's)")  # fmt: skip
    add("--candidates", type=int, default=argparse.SUPPRESS, help=f"pool per list for fusion and reranking ({saved % DEFAULTS.candidates})")  # fmt: skip
    add("--filter", action="append", default=[], metavar="KEY=VALUE",
        help="document=NAME, type=pdf, after=DATE, before=DATE or any metadata key; repeatable")  # fmt: skip


def _weight(text: str) -> float | None:
    """--weight: a number, or auto (the store's fitted weight)."""
    if text.strip().lower() == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the weight is a number from 0 to 1 or auto, not '{text}'") from None
