"""A web process made ready before its first request: gunicorn.conf.py calls `settle` in each worker.

- Every template is compiled now, not while the first customer who needs it waits.
- What the process holds by then (the app, its modules, the compiled templates) is frozen out of the garbage
  collector's way. A full collection otherwise walks those objects, some 235,000: a pause of about 125 ms on a
  2-core box that lands on whichever request is running, and on every request a gevent worker has queued
  behind it. Objects made later are collected as before.
- Full collections come ten times less often. What they still walk is what a busy worker holds for minutes
  (its open live streams, the statement cache: some 100,000 objects at 1,000 tablets, 35–170 ms a pass), and
  they rarely find anything: cycles die young, in the cheap collections. Python starts a full pass once the
  long-lived objects grew by a quarter, counting only the unfrozen ones, so in a worker serving 1,000 tablets
  that was every tenth middle collection, each few seconds (capacity benchmark: 42 full passes in a run;
  with this, 6).
"""

import gc

FULL_COLLECTION_EVERY = 100  # middle collections (Python's default: 10)


def settle(app):
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)
    gc.collect()
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
