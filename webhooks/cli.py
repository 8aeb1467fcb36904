"""The `opgate` command line: one sub-command per module in `webhooks.commands`.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int` as the default. Exit codes: 0 success, 1 a denial or failed expectation,
2 usage or input errors.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from policies import errors as policy_errors
from webhooks import errors

# sub-command name -> module; the order is the order of `opgate --help`.
COMMANDS: dict[str, str] = {
    "demo": "webhooks.commands.demo",
    "decide": "webhooks.commands.decide",
    "serve": "webhooks.commands.serve",
    "certs": "webhooks.commands.certs",
    "reconcile": "webhooks.commands.reconcile",
    "simulate": "webhooks.commands.simulate",
    "review-rbac": "webhooks.commands.review_rbac",
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="opgate",
        description=(
            "Admission webhooks, offline policy simulation and RBAC review for the vworkspace "
            "Operation API on Argo Workflows."
        ),
        epilog="Run `opgate COMMAND --help` for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS.values():
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (errors.OpgateError, policy_errors.PolicyError) as exc:
        print(f"opgate {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `opgate ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
