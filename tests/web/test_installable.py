"""A tablet can install omnistore on its home screen."""

import json


def test_manifest_and_icons_are_served(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="manifest"' in page and 'name="theme-color"' in page
    with client.get("/static/manifest.webmanifest") as response:
        manifest = json.loads(response.get_data(as_text=True))
    assert manifest["display"] == "fullscreen" and manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as response:
            assert response.status_code == 200 and response.mimetype == "image/png"
            data = response.get_data()
        width, height = (int(n) for n in icon["sizes"].split("x"))
        assert int.from_bytes(data[16:20], "big") == width and int.from_bytes(data[20:24], "big") == height


def test_healthz_answers_without_a_session(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"
    assert response.headers["Server-Timing"].startswith("app;dur=")
