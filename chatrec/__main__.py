"""`python -m chatrec` is the `chatrec` command."""

from chatrec.cli import main

main()
