"""First start on a laptop: migrate the database and load the demo network when it is empty."""

import click
from flask_migrate import upgrade
from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.stores.models import Location


def first_start(app):
    with app.app_context():
        upgrade()
        if db.session.scalar(select(Location.id).limit(1)) is None:
            # Only here, on the very first start of an empty database, does the app reach into the tooling.
            from omnistore_tools.demo import load_demo

            click.echo("omnistore: empty database — loading the demo network (takes a few seconds)…", err=True)
            result = load_demo()
            click.echo(result.logins_text(), err=True)
        else:
            from omnistore.demo_logins import demo_logins_hint

            click.echo(demo_logins_hint(), err=True)
        db.session.remove()
