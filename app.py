"""Entry point: `flask --app app run`, `gunicorn app:app`."""

from omnistore import create_app

app = create_app()
