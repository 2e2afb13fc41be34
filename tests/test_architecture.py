"""The layout's rules (docs/ARCHITECTURE.md): what the import linter cannot see, and the linter itself."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "omnistore"

# Flask names that belong to the screens: reading the request, answering it, rendering a page.
SCREEN_NAMES = {
    "request",
    "render_template",
    "render_template_string",
    "make_response",
    "redirect",
    "flash",
    "session",
    "abort",
    "jsonify",
}
# Outside the screens, each use of one of those names is here with its reason.
ALLOWED = {
    "core/audit.py": {"request"},  # an audit row records the client address, whichever screen changed data
    "core/public_url.py": {"request"},  # on a laptop, links follow the host the browser used
    "orders/notifications.py": {"render_template"},  # e-mails only: templates/emails/, for the outbox
    "customers/marketing.py": {"render_template"},  # marketing e-mails only: templates/emails/marketing/
}


def _is_screen(relative):
    parts = relative.parts
    return (
        "views" in parts
        or parts[0] == "web"
        or relative.name in {"views.py", "home.py", "cli.py"}
        or relative == Path("stores/login.py")
        or relative == Path("__init__.py")
    )


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] != "migrations" and not _is_screen(relative):
            yield relative, ast.parse(path.read_text())


def test_outside_the_screens_no_module_reads_the_request_or_renders_a_page():
    found = {}
    for relative, tree in _modules():
        names = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module in {"flask", "flask_login"}
            for alias in node.names
        } & SCREEN_NAMES
        if names - ALLOWED.get(str(relative), set()):
            found[str(relative)] = sorted(names - ALLOWED.get(str(relative), set()))
    assert found == {}


@pytest.mark.parametrize(
    ("module", "folder"), [("orders/notifications.py", "emails/"), ("customers/marketing.py", "emails/marketing/")]
)
def test_notifications_render_e_mails_only(module, folder):
    tree = ast.parse((PACKAGE / module).read_text())
    templates = [
        node.args[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "render_template"
    ]
    assert templates and all(isinstance(t, ast.JoinedStr) and t.values[0].value.startswith(folder) for t in templates)


def test_the_screens_are_the_only_modules_that_define_routes():
    for relative, tree in _modules():
        decorators = [
            ast.unparse(d) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) for d in node.decorator_list
        ]
        assert not [d for d in decorators if d.startswith(("bp.", "app.")) and not d.startswith("app.cli")], relative


def test_the_import_rules_hold():
    """The contracts in pyproject.toml ([tool.importlinter]): domains depend downwards, the core on no domain."""
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if linter is None:
        pytest.fail("lint-imports is missing: pip install -e '.[test]'")
    result = subprocess.run([linter, "--no-cache"], cwd=PACKAGE.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_models_import_only_models_and_the_core():
    """Within a domain the screens use the verbs and the verbs the models; a model knows no verb or screen."""
    for path in sorted(PACKAGE.glob("*/models.py")):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        wrong = {
            m
            for m in imported
            if m.startswith("omnistore.") and not m.startswith("omnistore.core.") and not m.endswith(".models")
        }
        assert wrong == set(), path.relative_to(PACKAGE)


def test_no_import_cycles():
    """No module imports, directly or through others, a module that imports it."""
    import grimp

    graph = grimp.build_graph("omnistore")
    cycles = sorted(
        {
            tuple(sorted((a, b)))
            for a in graph.modules
            for b in graph.find_modules_directly_imported_by(a)
            if a != b and graph.chain_exists(importer=b, imported=a)
        }
    )
    assert cycles == []
