"""``python -m pyvanish``: the command line (see :mod:`pyvanish.cli`)."""

import sys


def main() -> None:
    from .cli import main as run

    sys.exit(run())


if __name__ == "__main__":
    main()
