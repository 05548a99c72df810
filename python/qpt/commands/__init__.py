"""`qpt` command line (also `python -m qpt`): one module per command, each with add_parser(commands).

The commands sit on top of the house (DESIGN.md): they may import any layer; nothing imports them. Each
command module imports the heavy layers inside its run function, so `qpt --help` starts fast.
"""
import argparse
import sys

from qpt.commands import dataset, demo, energy, evaluation, info, predict, train

COMMANDS = (info, energy, train, evaluation, demo, predict, dataset)


def build_parser():
    parser = argparse.ArgumentParser(prog="qpt", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"qpt {args.command}: {error}", file=sys.stderr)
        return 2
