"""A gunicorn worker settles before its first request (gunicorn.conf.py calls web/warm.py's settle)."""

import gc
import runpy
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def test_a_gunicorn_worker_compiles_every_template_freezes_what_it_holds_and_collects_fully_less_often(app):
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    app.jinja_env.cache.clear()
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    try:
        hooks["post_worker_init"](SimpleNamespace(wsgi=app))
        frozen = gc.get_freeze_count()
        compiled = {name for _loader, name in app.jinja_env.cache}
        settled = gc.get_threshold()
    finally:
        gc.unfreeze()  # the test process goes on collecting as usual
        gc.set_threshold(*thresholds)
    assert frozen > 10_000
    assert settled == (*thresholds[:2], 100) and thresholds[2] < 100
    assert compiled == set(app.jinja_env.list_templates())
