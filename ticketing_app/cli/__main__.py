"""`python -m ticketing_app.cli`: the `ticketing` command (how `up` starts its children)."""

from ticketing_app.cli import main

main()
