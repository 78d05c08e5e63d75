"""Migrations are expand-then-contract (docs/operations.md, "Schema changes during an
on-sale"): while a release's migration runs, the previous release keeps serving, so an
expanding migration may only add. Removing or renaming what the running code uses happens in
a later, explicitly marked contract migration (`CONTRACT = True`), once no running release
reads it. This test reads every migration's upgrade() and holds them to that."""

from __future__ import annotations

import ast

from alembic.script import ScriptDirectory

from ticketing_app.db.migrate import alembic_config
from ticketing_app.settings import PROJECT_ROOT

VERSIONS = PROJECT_ROOT / "migrations" / "versions"
DESTRUCTIVE_OPS = {"drop_table", "drop_column", "rename_table", "drop_constraint"}
DESTRUCTIVE_SQL = ("DROP ", "RENAME ", "ALTER COLUMN", "SET NOT NULL", "TRUNCATE ")


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def violations(source: str) -> list[str]:
    """What in upgrade() would break the release still running while it applies."""
    tree = ast.parse(source)
    contract = any(isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "CONTRACT" for t in n.targets) and
        isinstance(n.value, ast.Constant) and n.value.value is True for n in tree.body)
    upgrade = next((n for n in tree.body if isinstance(n, ast.FunctionDef)
                    and n.name == "upgrade"), None)
    if upgrade is None or contract:
        return []
    found = []
    for node in ast.walk(upgrade):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        op = node.func.attr
        if op in DESTRUCTIVE_OPS:
            found.append(f"{op} (line {node.lineno})")
        elif op == "alter_column" and (_false(_kw(node, "nullable")) or
                                       _kw(node, "new_column_name") is not None or
                                       _kw(node, "type_") is not None):
            found.append(f"alter_column narrowing/renaming (line {node.lineno})")
        elif op == "add_column":
            col = node.args[1] if len(node.args) > 1 else None
            if isinstance(col, ast.Call) and _false(_kw(col, "nullable")) and \
                    _kw(col, "server_default") is None:
                found.append(f"add_column NOT NULL without server_default (line {node.lineno})")
        elif op == "execute" and node.args and isinstance(node.args[0], ast.Constant) and \
                any(w in str(node.args[0].value).upper() for w in DESTRUCTIVE_SQL):
            found.append(f"destructive SQL (line {node.lineno})")
    return found


def test_every_migration_only_expands_unless_marked_contract() -> None:
    files = sorted(VERSIONS.glob("*.py"))
    assert files
    for path in files:
        assert violations(path.read_text()) == [], path.name


def test_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_the_policy_check_catches_what_it_must() -> None:
    bad = '''
def upgrade():
    op.drop_column("orders", "trace_id")
    op.add_column("orders", sa.Column("channel", sa.String(), nullable=False))
    op.alter_column("orders", "total", new_column_name="amount")
    op.execute("ALTER TABLE seats ALTER COLUMN price SET NOT NULL")
'''
    assert len(violations(bad)) == 4
    good = '''
def upgrade():
    op.create_table("waitlist", sa.Column("id", sa.Integer(), nullable=False))
    op.add_column("orders", sa.Column("channel", sa.String(), nullable=True))
    op.add_column("orders", sa.Column("v", sa.Integer(), nullable=False, server_default="0"))
'''
    assert violations(good) == []
    assert violations("CONTRACT = True\n" + bad) == []
