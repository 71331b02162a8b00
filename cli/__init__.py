"""The command-line front end (`python -m core`): a thin layer over core for admins' bulk work and scripts.

Exit codes: 0 success; 1 a plain-language error on stderr (bad input, unknown store, a file that
failed to ingest); 2 a malformed command line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import core  # noqa: F401  (sets the offline environment before any model library loads)
from cli.commands import COMMANDS
from cli.parser import build_parser
from core.config import load_settings
from core.errors import StoreNotFound, WorkbenchError
from core.records import Channel
from core.redact import redact
from core.workbench import Workbench

NOISY = ("pypdf", "LiteLLM", "litellm", "httpx", "sentence_transformers", "transformers")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not verbose:  # libraries narrate recoverable trouble that our own messages already explain
        for noisy in NOISY:
            logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        overrides = {"data_dir": args.data_dir} if getattr(args, "data_dir", None) else {}
        wb = Workbench(load_settings(**overrides))
        # no --user means the built-in admin; an empty or unknown --user is refused by core like any other
        me = wb.actor(args.user if "user" in args else wb.settings.admin_user, Channel.CLI)
        return COMMANDS[(args.command, getattr(args, "action", None))](wb, args, me) or 0
    except StoreNotFound as exc:
        print(f"error: {redact(str(exc))} Run `python -m core store list` to see the stores.", file=sys.stderr)
        return 1
    except WorkbenchError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
