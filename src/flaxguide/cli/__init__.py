"""`python -m flaxguide`: the command line.

- `commands`: the parser, one function per command, and `main`, which maps
  each kind of failure to its exit status;
- `arguments`: the argument types that check each option as it is parsed.
"""

from flaxguide.cli.commands import main

__all__ = ["main"]
