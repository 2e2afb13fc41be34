"""gunicorn reads this file from its working directory (`gunicorn app:app` in the project, README: Production)."""


def post_worker_init(worker):
    # Imported here, in the worker: gevent has patched the standard library by now, and psycopg must choose
    # its way of waiting for the database after that, not in the master before the fork.
    from omnistore.web.warm import settle

    settle(worker.wsgi)
