"""`python -m flaxguide`: the command line."""

from flaxguide.cli.commands import main

if __name__ == "__main__":
    main()
