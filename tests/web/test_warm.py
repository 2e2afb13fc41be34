"""A gunicorn worker settles before its first request (gunicorn.conf.py calls web/warm.py's settle)."""

import gc
import runpy
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def test_a_gunicorn_worker_compiles_every_template_and_freezes_what_it_holds(app):
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    app.jinja_env.cache.clear()
    assert gc.get_freeze_count() == 0
    try:
        hooks["post_worker_init"](SimpleNamespace(wsgi=app))
        frozen = gc.get_freeze_count()
        compiled = {name for _loader, name in app.jinja_env.cache}
    finally:
        gc.unfreeze()  # the test process goes on collecting as usual
    assert frozen > 10_000
    assert compiled == set(app.jinja_env.list_templates())
