"""Account recovery and the admin console's Emails page (CONTRACT §9), clicked through: the
storefront's "Forgot password?" page, the email kept in the outbox (the test server has no
SMTP_URL, so nothing is sent and the admin console shows it), the emailed link opening the reset
page, and the Account page's name and password changes."""

import re
import uuid

from playwright.sync_api import expect

from conftest import login_as


def register(server, name, password):
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    created = server.api.call(
        "POST",
        "/auth/register",
        {"name": name, "email": email, "password": password},
        expect=201,
    )
    return email, created["token"]


def test_forgotten_password_from_the_login_page_to_the_emailed_link(server, new_page, shot):
    email, _ = register(server, "Forgetful", "first-password-1")

    page = new_page()
    page.goto(server.url("/#/login"))
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account uses this address")
    shot(page, "forgot")

    # The admin reads the email on the Emails page (no SMTP server: it waits there).
    admin = new_page()
    login_as(admin, server, server.admin_token, "/admin/#/emails")
    admin.get_by_label("Show").select_option("pending")
    row = admin.get_by_role("row").filter(has_text=email).filter(has_text="Reset your")
    expect(row).to_have_count(1)
    row.get_by_role("button", name=re.compile("^Read")).click()
    text = admin.locator("pre.email-text")
    expect(text).to_contain_text("#/reset?token=")
    shot(admin, "emails-page")
    link = re.search(r"(/#/reset\?token=[0-9a-f]{64})", text.text_content()).group(1)

    page.goto(server.url(link))
    page.get_by_label("New password", exact=True).fill("second-password-2")
    page.get_by_label("New password again").fill("second-password-2")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    page.get_by_role("link", name="Log in with your new password").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("second-password-2")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name=re.compile(r"Log out \(Forgetful\)"))).to_be_visible()
    # The log-in moves on once the cart kept while logged out is merged: wait for it to leave the
    # log-in page, or its move would land after (and over) the next one. (The button is no sign:
    # it reads "Log in…" while the log-in runs.)
    expect(page).not_to_have_url(re.compile(r"#/login"))

    # The link works once.
    page.goto(server.url(link))
    page.get_by_label("New password", exact=True).fill("third-password-3")
    page.get_by_label("New password again").fill("third-password-3")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid, used or expired")


def test_the_account_page_changes_name_and_password(server, new_page, shot):
    email, token = register(server, "Renamer", "first-password-1")
    page = new_page()
    login_as(page, server, token, "/#/account")
    page.get_by_label("Name").fill("Renamed Person")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"Log out \(Renamed Person\)"))).to_be_visible()

    page.get_by_label("Current password").fill("not-the-password")
    page.get_by_label("New password", exact=True).fill("second-password-2")
    page.get_by_label("New password again").fill("second-password-2")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("current password is not right")

    page.get_by_label("Current password").fill("first-password-1")
    page.get_by_label("New password", exact=True).fill("second-password-2")
    page.get_by_label("New password again").fill("second-password-2")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status").filter(has_text="Password changed")).to_be_visible()
    shot(page, "account")
    # The page's session goes on (a fresh cookie came with the answer): a write still works.
    page.get_by_label("Name").fill("Renamed Again")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("button", name=re.compile(r"Log out \(Renamed Again\)"))).to_be_visible()
    # The token from before the change no longer works; the new password does.
    server.api.call("GET", "/auth/me", token=token, expect=401)
    assert server.api.login(email, "second-password-2")
