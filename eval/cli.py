"""`qa eval`: placeholder until the eval suite lands."""

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", default="seed", help="'seed' or a SQuAD-format JSON file")


def run(args, settings) -> int:
    raise SystemExit("qa eval is not built yet")
