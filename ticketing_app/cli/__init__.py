"""The `ticketing` command: `up` runs everything on embedded defaults; each part also runs
alone for production (`web`, `api`, `worker`, `relay`, `consumers`, `migrate`, `seed-demo`).

The commands live by use case: serving (`serve.py`), the backend processes (`backend.py`) and
the operator's one-shot commands (`operations.py`); they are registered here, in one list."""

from __future__ import annotations

import typer

from ticketing_app.cli import backend, operations, serve
from ticketing_app.cli.serve import up_child_env, web_env

__all__ = ["app", "main", "up_child_env", "web_env"]

app = typer.Typer(help="High-concurrency seat ticketing.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
# In the order `ticketing --help` lists them.
app.command()(operations.migrate)
app.command("seed-demo")(operations.seed_demo)
app.command("create-admin")(operations.create_admin)
app.command()(operations.audit)
app.command()(backend.worker)
app.command()(backend.relay)
app.command()(backend.consumers)
app.command()(operations.replay)
app.command("provider-mode")(operations.provider_mode)
app.command()(serve.api)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            add_help_option=False)(operations.bench)
app.command()(serve.web)
app.command()(serve.up)


def main() -> None:
    app()
