"""GST mode (CONTRACT §10) in the storefront: a confirmed order's page lists its tax invoice under
"Invoices", and the link downloads the PDF. Its own server, started with TAX_MODE=gst on SQLite
(the PostgreSQL side of invoices is covered by the API and process tests)."""

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api, Server, _binary, _free_port, login_as


@pytest.fixture(scope="module")
def gst_server():
    workdir = Path(tempfile.mkdtemp(prefix="cartwright-browser-gst-"))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{workdir / 'shop.db'}",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATA_DIR": str(workdir),
        "JWT_SECRET": "browser-test-secret-browser-test-secret",
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DEMO_DATA": "false",
        "PAYMENT_GATEWAY": "simulated",
        "TAX_MODE": "gst",
        "SELLER_NAME": "Cartwright Retail Pvt Ltd",
        "SELLER_ADDRESS": "12 Marine Drive, Mumbai",
        "SELLER_GSTIN": "27AAPFU0939F1ZV",
        "RUST_LOG": "warn",
    }
    for var in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        env.pop(var, None)
    log = open(workdir / "server.log", "wb")
    process = subprocess.Popen([str(_binary())], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/ready", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.time() > deadline:
            log.flush()
            pytest.fail(f"server did not start: {(workdir / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    server = Server("sqlite-gst", base, Api(base), process, workdir)
    server.admin_token = server.api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    yield server
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    shutil.rmtree(workdir, ignore_errors=True)


def test_the_order_page_links_to_its_tax_invoice_pdf(gst_server, browser):
    api = gst_server.api
    product = api.call(
        "POST",
        "/products",
        {"name": "Steel Kettle", "price": 1000, "stock": 5, "gstRate": 18, "hsnCode": "85161000"},
        token=gst_server.admin_token,
        expect=201,
    )
    customer = api.register("Invoice Reader")
    token = customer["token"]
    api.call("POST", "/cart/items", {"productId": product["_id"], "quantity": 1}, token=token)
    api.call(
        "PUT",
        "/cart/shipping-address",
        {"street": "4 Hill Road", "city": "Mumbai", "state": "Maharashtra", "zipCode": "400050", "phone": "+919800000000"},
        token=token,
        expect=200,
    )
    order = api.call("POST", "/orders", {"paymentMethod": "cod"}, token=token, expect=201)["order"]

    context = browser.new_context(base_url=gst_server.base)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        login_as(page, gst_server, token, f"/#/orders/{order['_id']}")
        page.get_by_text("Invoices", exact=True).click()
        link = page.get_by_role("link").filter(has_text="Tax invoice INV/")
        expect(link).to_have_count(1)
        expect(link).to_contain_text("000001 (PDF)")
        href = link.get_attribute("href")
        assert href.endswith(".pdf"), href
        # The browser's session cookie is enough to download it.
        response = page.request.get(gst_server.url(href))
        assert response.status == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.body().startswith(b"%PDF")
    finally:
        context.close()
