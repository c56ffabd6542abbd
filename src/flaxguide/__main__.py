"""`python -m flaxguide`: the command line."""

from flaxguide.cli import main

if __name__ == "__main__":
    main()
