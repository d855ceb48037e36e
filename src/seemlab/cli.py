"""The ``seemlab`` command line: ``seemlab book``, ``seemlab data ...``, ``seemlab run``, ``seemlab sweep``.

Each command lives in its own module, which exposes ``add_parser(subparsers)``; the parser
sets ``func``, called with the parsed arguments. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import argparse
import sys

from seemlab import book
from seemlab import run_cli
from seemlab import sweep
from seemlab.params import check_options
from seemlab.data import cli as data_cli

COMMANDS = [book, data_cli, run_cli, sweep]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seemlab", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    args = parser.parse_args(argv)
    try:
        check_options(args)  # the options a command declared a schema for (seemlab.params)
        return int(args.func(args) or 0)
    except ValueError as err:  # bad input: one clear line, no traceback
        print(f"seemlab {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
