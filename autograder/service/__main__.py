"""``python -m autograder.service``: the same as ``python -m autograder serve``."""

import sys

from autograder.errors import AutograderError
from autograder.service.command import cmd_serve

if __name__ == "__main__":
    try:
        sys.exit(cmd_serve(sys.argv[1:]))
    except AutograderError as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(2)
