"""`python -m core store policy ...`: a store's injection check, safety filter, token limits and budgets, and the
decisions they made, at a terminal."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.policy import LABELS, MODES
from core.records import Actor
from core.workbench import Workbench

OPTIONS = {  # flag: (policy part, help)
    "--injection": ("injection", "off, flag or block questions and passages that read as injected instructions"),
    "--threshold": ("injection_threshold", "the injection score from which a text fails (0.05 to 1)"),
    "--safety": ("safety", "off, flag or block answers the safety filter catches"),
    "--tokens-per-request": ("tokens_per_request", "tokens one question may use (0: no limit; administrators)"),
    "--tokens-per-ingest": ("tokens_per_ingest", "tokens one upload may embed (0: no limit; administrators)"),
    "--tokens-per-day-user": ("tokens_per_day_user", "tokens each user may use a day (administrators)"),
    "--tokens-per-day-key": ("tokens_per_day_key", "tokens each API key may use a day (administrators)"),
    "--budget-per-month-user": ("budget_per_month_user", "USD each user may spend a month (administrators)"),
    "--budget-per-month-key": ("budget_per_month_key", "USD each API key may spend a month (administrators)"),
}


def arguments(store: argparse._SubParsersAction, plain: list) -> None:  # type: ignore[type-arg]
    policy = store.add_parser(
        "policy",
        parents=plain,
        help="show or change a store's policy: injection check, safety filter, limits, budgets",
        description="Without options the store's policy is shown. Owners set the injection check and the safety "
        "filter; administrators also set the token limits and budgets (0: none). Defaults: the injection check "
        "blocks at 0.7, the safety filter flags, nothing is limited.",
    )
    policy.add_argument("name")
    for flag, (part, text) in OPTIONS.items():
        policy.add_argument(flag, dest=part, metavar="VALUE", choices=MODES if part in ("injection", "safety") else None,
                            help=text)  # fmt: skip
    policy.add_argument("--decisions", type=int, default=0, metavar="N", help="also list its N latest decisions")


def store_policy(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    changes = {part: getattr(args, part) for part, _ in OPTIONS.values() if getattr(args, part) is not None}
    policy = wb.stores.set_policy(me, args.name, changes) if changes else wb.stores.policy(me, args.name)
    print(f"Policy of '{args.name}'" + (" (changed)" if changes else "") + ":")
    width = max(len(label) for label in LABELS.values())
    for label, value in policy.shown():
        print(f"  {label:<{width}}  {value}")
    if args.decisions:
        total, latest = wb.usage.decisions(me, store=args.name, per_page=args.decisions)
        print(f"\n{total:,} decisions; the latest {len(latest)}:")
        for d in latest:
            score = f" {d.score:.2f}" if d.score is not None else ""
            print(f"  {d.created_at:%Y-%m-%d %H:%M} {d.user} ({d.channel}) {d.policy} {d.subject} {d.action}{score}: {d.reason} — {d.what}")  # fmt: skip


COMMANDS: dict[tuple[str, str | None], Callable[[Workbench, argparse.Namespace, Actor], int | None]] = {
    ("store", "policy"): store_policy,
}
