"""The tablet's offline side, served by the app: the service worker at /sw.js (scope: the whole app) and the
page it shows for an address it has no copy of.

The worker itself is web/sw.js (not under static/: it is served only here, at the root, so its scope is the
whole app); this route puts the list of the app shell's files and a version in front
of it (a changed file changes the version, so the browser installs the new worker and drops the old shell).
What it keeps and when it forgets is described in sw.js. The queue of forms waiting to be sent lives in the
page (static/js/offline.js), not in the worker.
"""

import hashlib
import json
from pathlib import Path

from flask import Response, current_app, g, render_template, url_for

WORKER = Path(__file__).with_name("sw.js")
# The app shell: every page's styles and scripts (templates/base.html) and the offline page.
SHELL_FILES = (
    "css/app.css",
    "css/orders.css",
    "css/public.css",
    "vendor/htmx-2.0.11.min.js",
    "js/app.js",
    "js/orders.js",
    "js/customers.js",
    "js/live.js",
    "js/pickups.js",
    "js/scanner.js",
    "js/offline.js",
    "manifest.webmanifest",
    "icons/icon-192.png",
)


def _static_path(name):
    return Path(current_app.static_folder) / name


def _version(worker_source):
    digest = hashlib.sha256(worker_source.encode())
    for name in SHELL_FILES:
        path = _static_path(name)
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


def register_offline(app):
    @app.get("/sw.js")
    def service_worker():
        g.session_untouched = True  # fetched beside the pages (an update check): never re-send the session cookie
        source = WORKER.read_text(encoding="utf-8")
        settings = {
            "version": _version(source),
            "shell": [url_for("static", filename=name) for name in SHELL_FILES],
            "offlinePage": url_for("offline_page"),
        }
        body = f"self.OMNISTORE = {json.dumps(settings)};\n{source}"
        return Response(
            body,
            mimetype="text/javascript",
            headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
        )

    @app.get("/offline")
    def offline_page():
        """What a reload shows offline for a page this tablet has no copy of: nothing personal in it."""
        # Kept by the worker's install, which may still be running after a sign-out: its answer must not bring
        # back the cookie of the session that ended (the sign-in form's token would no longer match).
        g.session_untouched = True
        return render_template("errors/offline.html")
