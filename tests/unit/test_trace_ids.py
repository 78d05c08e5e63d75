"""Trace ids stay unique across server workers forked from one parent (granian forks its
workers after the app was imported)."""

from __future__ import annotations

import os

from ticketing_app.observability.tracing import request_context


def _first_ids(n: int) -> list[str]:
    out = []
    for _ in range(n):
        with request_context("GET /", None) as (trace_id, _span):
            out.append(trace_id)
    return out


def test_forked_workers_do_not_repeat_each_others_trace_ids() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, to the parent
        os.close(r)
        os.write(w, ",".join(_first_ids(5)).encode())
        os._exit(0)
    os.close(w)
    mine = _first_ids(5)
    with os.fdopen(r) as f:
        theirs = f.read().split(",")
    os.waitpid(pid, 0)
    assert len(theirs) == 5 and not set(mine) & set(theirs)
