"""How a request's own transaction ends: COMMIT when it only read (so psycopg keeps its prepared statements,
which it drops after any ROLLBACK), ROLLBACK as before when anything else happened; on PostgreSQL, where its
reads run in autocommit, a write outside a verb's transaction is refused."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from omnistore.core.extensions import db
from omnistore.stores.models import Location

pytestmark = pytest.mark.fresh_app  # adds routes


def ends(app, path):
    """How the request's transaction ended: "commit", "rollback" (or both, in order). The request runs in a
    thread of its own, so it has its own app context, torn down at its end as in a server (the tests' app
    context would otherwise live on)."""
    seen = []
    listeners = [("commit", lambda _conn: seen.append("commit")), ("rollback", lambda _conn: seen.append("rollback"))]
    for name, listener in listeners:
        event.listen(db.engine, name, listener)
    try:
        with ThreadPoolExecutor(1) as pool:
            response = pool.submit(lambda: app.test_client().get(path)).result()
    finally:
        for name, listener in listeners:
            event.remove(db.engine, name, listener)
    return response, seen


def test_a_request_that_only_read_commits_and_one_that_wrote_without_committing_rolls_back(app, make):
    ham = make.location("HAM")

    @app.get("/_test/read")
    def _read():
        return db.session.scalar(sa.select(Location.name).where(Location.id == ham.id))

    @app.get("/_test/stray-write")
    def _stray_write():
        db.session.execute(sa.update(Location).where(Location.id == ham.id).values(name="Changed"))
        return "written, never committed"

    @app.get("/_test/dirty")
    def _dirty():
        db.session.get(Location, ham.id).name = "Dirty"
        return "changed in memory only"

    db.session.remove()
    response, seen = ends(app, "/_test/read")
    assert response.get_data(as_text=True) == "Hamburg" and seen == ["commit"]
    for path in ("/_test/stray-write", "/_test/dirty"):
        if path == "/_test/stray-write" and app.database_kind == "postgresql":
            # The request's reads run in autocommit there (core/db.py): a write would be committed alone at
            # once, so it is refused before it reaches the database.
            with pytest.raises(RuntimeError, match="A write outside a transaction"):
                ends(app, path)
        else:
            response, seen = ends(app, path)
            assert response.status_code == 200 and seen == ["rollback"]
        db.session.remove()
        assert db.session.get(Location, ham.id).name == "Hamburg"
