def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "Sign in" in response.get_data(as_text=True)


def test_clerk_signs_in_and_sees_home(client, make):
    ham = make.location("HAM")
    clerk = make.staff("clerk", ham)
    response = client.login(clerk.email)
    assert response.status_code == 303
    page = client.get("/").get_data(as_text=True)
    assert "Hamburg" in page and "pickup desk" in page
