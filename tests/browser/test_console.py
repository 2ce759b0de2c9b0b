"""The merchant's consoles (issue 21), clicked through as a shop's operator would: products made
and edited from the screen with pictures uploaded from the computer, and seen by a shopper."""

import base64
import csv
import re
import uuid

from conftest import login_as
from playwright.sync_api import expect


def jpeg_bytes(page, width=320, height=240):
    """A real JPEG, drawn on a canvas by the browser itself (no imaging library needed)."""
    data_url = page.evaluate(
        """([w, h]) => {
            const canvas = document.createElement('canvas');
            canvas.width = w;
            canvas.height = h;
            const ctx = canvas.getContext('2d');
            const gradient = ctx.createLinearGradient(0, 0, w, h);
            gradient.addColorStop(0, '#1f5f8b');
            gradient.addColorStop(1, '#f5b700');
            ctx.fillStyle = gradient;
            ctx.fillRect(0, 0, w, h);
            return canvas.toDataURL('image/jpeg', 0.9);
        }""",
        [width, height],
    )
    assert data_url.startswith("data:image/jpeg;base64,")
    return base64.b64decode(data_url.split(",", 1)[1])


def fill_product(page, name, price, stock, brand="Console", category="tests"):
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill(f"{name}, made from the console.")
    page.get_by_label("Price").fill(price)
    page.get_by_label("Stock").fill(stock)
    page.get_by_label("Brand").fill(brand)
    page.get_by_label("Category").fill(category)


def created_id(page):
    page.wait_for_url(re.compile(r"#/products/[0-9a-f-]{36}"))
    return re.search(r"#/products/([0-9a-f-]{36})", page.url).group(1)


def test_admin_creates_a_product_with_an_uploaded_jpeg_and_a_shopper_sees_it(server, new_page, shot):
    page = new_page()
    login_as(page, server, server.admin_token, "/admin#/products")
    expect(page.get_by_role("heading", name="Products")).to_be_visible()
    page.get_by_role("link", name="Add a product").click()
    expect(page.get_by_role("heading", name="Add a product")).to_be_visible()
    name = f"Console Lamp {uuid.uuid4().hex[:6]}"
    fill_product(page, name, "349.50", "12")
    page.get_by_label(re.compile("^Add a picture")).set_input_files(
        {"name": "lamp.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(page)}
    )
    expect(page.get_by_text("Uploaded lamp.jpg; save to keep it.")).to_be_visible()
    expect(page.get_by_role("img", name=f"Picture 1 of {name}")).to_be_visible()
    shot(page, "admin-new-product")
    page.get_by_role("button", name="Create product").click()
    product_id = created_id(page)
    expect(page.get_by_text(f"Created {name}.")).to_be_visible()

    product = server.api.call("GET", f"/products/{product_id}", expect=200)
    assert product["name"] == name and product["price"] == 349.5 and product["stock"] == 12
    assert product["vendorId"] is None
    [url] = product["imageUrls"]
    assert re.fullmatch(r"/uploads/[0-9a-f]{32}-large\.jpg", url), url

    shopper = new_page(width=375, height=800)
    shopper.goto(server.url(f"/#/product/{product_id}"))
    expect(shopper.get_by_role("heading", name=name)).to_be_visible()
    picture = shopper.get_by_role("img", name=f"{name}, picture 1")
    expect(picture).to_be_visible()
    assert picture.get_attribute("src") == url
    expect(picture).to_have_js_property("complete", True)
    assert picture.evaluate("img => img.naturalWidth") == 320
    shot(shopper, "shopper-sees-picture")


def test_vendor_creates_and_edits_its_own_product(server, new_page, shot):
    page = new_page(width=375, height=800)
    login_as(page, server, server.vendor_token, "/vendor#/products")
    expect(page.get_by_role("heading", name="My products")).to_be_visible()
    page.get_by_role("link", name="Add a product").click()
    name = f"Vendor Brush {uuid.uuid4().hex[:6]}"
    fill_product(page, name, "80", "5", brand="Bristle")
    page.get_by_role("button", name="Create product").click()
    product_id = created_id(page)
    product = server.api.call("GET", f"/products/{product_id}", expect=200)
    me = server.api.call("GET", "/auth/me", token=server.vendor_token, expect=200)
    assert product["vendorId"] == me["_id"]

    # An emptied price is an error next to the field, never a price of zero.
    page.get_by_label("Price").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Price is required: enter a number")).to_be_visible()
    assert server.api.call("GET", f"/products/{product_id}", expect=200)["price"] == 80

    # A refused value comes back next to its field, in the API's words.
    page.get_by_label("Price").fill("-3")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#price-error")).to_contain_text("must be from 0")

    page.get_by_label("Price").fill("95.25")
    page.get_by_label("Stock").fill("7")
    page.get_by_label("SKU").fill(f"BR-{uuid.uuid4().hex[:6]}")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text(re.compile(rf"^Saved: {re.escape(name)}, .*95\.25, 7 in stock\.$"))).to_be_visible()
    product = server.api.call("GET", f"/products/{product_id}", expect=200)
    assert (product["price"], product["stock"], product["brand"]) == (95.25, 7, "Bristle")
    shot(page, "vendor-edited-product")

    # Deactivating asks first; cancelling changes nothing, confirming hides it from the shop.
    page.get_by_role("link", name="Back to products").click()
    row = page.get_by_role("row").filter(has_text=name)
    # The list's own price box: emptied, it is an error and the price stays.
    row.get_by_label(f"Price of {name}").fill("")
    row.get_by_role("button", name=f"Save {name}").click()
    expect(row.get_by_role("alert")).to_contain_text(f"Price of {name} is required: enter a number")
    assert server.api.call("GET", f"/products/{product_id}", expect=200)["price"] == 95.25
    row.get_by_role("button", name=f"Deactivate {name}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Deactivate {name}?")
    dialog.get_by_role("button", name="Cancel").click()
    assert server.api.call("GET", f"/products/{product_id}", expect=200)["isActive"] is True
    row.get_by_role("button", name=f"Deactivate {name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("Inactive")
    server.api.call("GET", f"/products/{product_id}", expect=404)
    page.get_by_role("button", name=f"Activate {name}").click()
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("Active")
    assert server.api.call("GET", f"/products/{product_id}", expect=200)["isActive"] is True


ADDRESS = {
    "name": "Kiran Shah",
    "street": "4 Hill Road",
    "city": "Pune",
    "state": "Maharashtra",
    "zipCode": "411001",
    "country": "India",
    "phone": "+919811111111",
}


def cod_order(server, customer, key="lipstick"):
    api, token = server.api, customer["token"]
    api.call("POST", "/cart/items", {"productId": server.products[key]["_id"], "quantity": 1}, token=token, expect=200)
    address = api.call("POST", "/addresses", ADDRESS, token=token, expect=201)
    created = api.call(
        "POST",
        "/orders",
        {"addressId": address["_id"], "paymentMethod": "cod"},
        token=token,
        expect=201,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    return created["order"]


def test_admin_order_page_shows_the_customer_and_offers_exactly_the_servers_moves(server, new_page, shot):
    customer = server.api.register("Order Page Customer")
    order = cod_order(server, customer)
    page = new_page()
    login_as(page, server, server.admin_token, "/admin#/orders")
    page.get_by_label("Order number or customer email").fill(customer["email"])
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row").filter(has_text=order["orderNumber"])
    expect(row).to_contain_text(customer["email"])
    expect(page.get_by_role("row")).to_have_count(2)  # the header and this order
    row.get_by_role("link", name=f"Order {order['orderNumber']}").click()

    expect(page.get_by_role("heading", name=re.compile(f"^Order {order['orderNumber']}"))).to_be_visible()
    people = page.get_by_role("region", name="Customer")
    expect(people).to_contain_text("Order Page Customer")
    expect(people).to_contain_text(customer["email"])
    expect(people).to_contain_text("Pune")
    expect(page.get_by_role("region", name="Lines")).to_contain_text("Ruby Test Lipstick")
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("Order confirmed")
    expect(page.get_by_role("region", name="Payment and refunds")).to_contain_text("Cash on delivery")

    served = server.api.call("GET", f"/orders/{order['_id']}", token=server.admin_token, expect=200)
    menu = page.get_by_label(f"New status for {order['orderNumber']}")
    offered = menu.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert offered == served["nextStatuses"] == ["processing", "shipped", "cancelled"]
    shot(page, "admin-order-page")

    # Shipping without a tracking number is refused on the screen, and nothing changes.
    menu.select_option("shipped")
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_text("A tracking number is required to ship an order.")).to_be_visible()
    assert server.api.call("GET", f"/orders/{order['_id']}", token=server.admin_token)["status"] == "confirmed"
    page.get_by_label(f"Tracking number for {order['orderNumber']}").fill("TRK-PAGE-1")
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_text("Tracking number: TRK-PAGE-1")).to_be_visible()
    served = server.api.call("GET", f"/orders/{order['_id']}", token=server.admin_token, expect=200)
    assert served["status"] == "shipped"
    offered = page.get_by_label(f"New status for {order['orderNumber']}").locator("option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert offered == served["nextStatuses"] == ["delivered"]


def test_role_change_asks_for_confirmation_and_the_own_row_is_locked(server, new_page, shot):
    email = f"role-{uuid.uuid4().hex[:8]}@browser.test"
    made = server.api.call(
        "POST",
        "/admin/users",
        {"name": "Role Change Vendor", "email": email, "password": "vendor-pass-1", "role": "vendor"},
        token=server.admin_token,
        expect=201,
    )
    page = new_page()
    login_as(page, server, server.admin_token, "/admin#/users?role=vendor")
    role = page.get_by_label(f"Role of {email}", exact=True)
    role.select_option("customer")
    # Choosing in the menu changes nothing by itself.
    page.wait_for_timeout(300)
    users = server.api.call("GET", "/admin/users?role=vendor&limit=100", token=server.admin_token)["users"]
    assert any(u["_id"] == made["_id"] for u in users)
    page.get_by_role("button", name=f"Change role of {email}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Change {email} from vendor to customer?")
    shot(page, "role-change-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    users = server.api.call("GET", "/admin/users?role=vendor&limit=100", token=server.admin_token)["users"]
    assert any(u["_id"] == made["_id"] for u in users)

    page.get_by_label(f"Role of {email}", exact=True).select_option("customer")
    page.get_by_role("button", name=f"Change role of {email}").click()
    page.get_by_role("dialog").get_by_role("button", name="Change role").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_label(f"Role of {email}", exact=True)).to_have_count(0)  # left the vendor filter
    users = server.api.call("GET", "/admin/users?role=vendor&limit=100", token=server.admin_token)["users"]
    assert not any(u["_id"] == made["_id"] for u in users)

    # The admin's own row offers neither a role change nor deactivation.
    page.goto(server.url("/admin#/users?role=admin"))
    expect(page.get_by_label("Role of admin@browser.test", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Change role of admin@browser.test")).to_be_disabled()
    expect(page.get_by_role("button", name="Deactivate admin@browser.test")).to_be_disabled()


def fail_refund_in_database(server, refund_id):
    """Marks a processed refund failed, as a gateway refusal leaves it (the simulated gateway never
    refuses), straight in the server's database."""
    sql = f"UPDATE payment_transactions SET status = 'failed', last_error = 'Refused by the bank' WHERE id = '{refund_id}'"
    if server.db == "sqlite":
        import sqlite3

        with sqlite3.connect(server.workdir / "shop.db") as db:
            assert db.execute(sql).rowcount == 1
        return
    import os
    import subprocess

    base = os.environ["TEST_DATABASE_URL"]
    schemas = subprocess.run(
        ["psql", base, "-Atc", "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'browser_%'"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    changed = 0
    for schema in schemas:
        out = subprocess.run(
            ["psql", base, "-Atc", f"SET search_path TO {schema}; {sql}"], capture_output=True, text=True
        ).stdout
        changed += out.count("UPDATE 1")
    assert changed == 1, changed


def test_a_failed_refund_is_retried_from_the_refunds_screen(server, new_page, shot):
    customer = server.api.register("Refund Screen Customer")
    api, token = server.api, customer["token"]
    api.call("POST", "/cart/items", {"productId": server.products["shampoo"]["_id"], "quantity": 1}, token=token, expect=200)
    address = api.call("POST", "/addresses", ADDRESS, token=token, expect=201)
    order = api.call(
        "POST",
        "/orders",
        {"addressId": address["_id"], "paymentMethod": "card"},
        token=token,
        expect=201,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )["order"]
    api.call("POST", "/payments", {"orderId": order["_id"], "paymentMethod": "card"}, token=token, expect=200)
    api.call("PATCH", f"/orders/{order['_id']}/cancel", {"reason": "changed my mind"}, token=token, expect=200)
    processed = api.call("GET", "/admin/refunds?status=processed&limit=100", token=server.admin_token, expect=200)
    [refund] = [r for r in processed["refunds"] if r["orderNumber"] == order["orderNumber"]]
    fail_refund_in_database(server, refund["_id"])

    page = new_page()
    login_as(page, server, server.admin_token, "/admin#/refunds")
    expect(page.get_by_role("heading", name="Refunds")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=order["orderNumber"])
    expect(row).to_contain_text("Refused by the bank")
    shot(page, "refunds-failed")
    row.get_by_role("button", name=f"Retry refund of {order['orderNumber']}").click()
    expect(page.get_by_role("row").filter(has_text=order["orderNumber"])).to_have_count(0)
    after = api.call("GET", "/admin/refunds?status=processed&limit=100", token=server.admin_token, expect=200)
    assert any(r["_id"] == refund["_id"] for r in after["refunds"]), after
    page.get_by_label("Show").select_option("processed")
    expect(page.get_by_role("row").filter(has_text=order["orderNumber"])).to_contain_text("processed")


def test_a_reversed_dashboard_range_is_a_clear_error(server, new_page):
    page = new_page()
    login_as(page, server, server.admin_token, "/admin#/?from=2026-03-10&to=2026-03-01")
    expect(page.get_by_role("alert")).to_contain_text("The start date (2026-03-10) is after the end date (2026-03-01)")
    expect(page.locator("[data-kpi=revenue]")).to_have_count(0)


def test_the_csv_export_downloads_the_orders_of_the_filter(server, new_page, shot):
    customer = server.api.register("Export Customer")
    orders = [cod_order(server, customer) for _ in range(3)]
    server.api.call(
        "PATCH",
        f"/orders/admin/{orders[0]['_id']}/status",
        {"status": "shipped", "trackingNumber": "TRK-CSV-1"},
        token=server.admin_token,
        expect=200,
    )
    other = server.api.register("Export Bystander")
    cod_order(server, other)

    page = new_page()
    login_as(page, server, server.admin_token, "/admin#/orders")
    page.get_by_label("Order number or customer email").fill(customer["email"])
    page.get_by_label("Status", exact=True).select_option("confirmed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row")).to_have_count(3)  # the header and two confirmed orders
    shot(page, "orders-filtered-for-export")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert re.fullmatch(r"orders-\d{8}-\d{6}\.csv", download.suggested_filename), download.suggested_filename
    with open(download.path(), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["orderNumber"] for r in rows) == sorted(o["orderNumber"] for o in orders[1:])
    for row in rows:
        assert (row["status"], row["customerEmail"], row["customerName"]) == ("confirmed", customer["email"], "Export Customer")
        assert row["total"] == f"{next(o for o in orders if o['orderNumber'] == row['orderNumber'])['totalAmount']:.2f}"


def test_a_discount_code_ending_in_the_past_is_refused_next_to_its_field(server, new_page, shot):
    page = new_page(width=375, height=800)
    login_as(page, server, server.admin_token, "/admin#/discounts")
    expect(page.get_by_role("heading", name="Discount codes")).to_be_visible()
    code = f"PAST{uuid.uuid4().hex[:6].upper()}"
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_label("Value").fill("10")
    page.get_by_label("Ends on").fill("2020-01-01")
    page.get_by_role("button", name="Create code").click()
    ends = page.get_by_label("Ends on")
    expect(ends).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field", has=ends)).to_contain_text("End date must be in the future.")
    shot(page, "discount-past-end-refused")
    refused = server.api.call("GET", f"/admin/discounts/{code}", token=server.admin_token)
    assert refused["success"] is False, refused


def test_the_dashboard_counts_one_set_of_orders_and_says_so(server, new_page, shot):
    customer = server.api.register("Dashboard Set Customer")
    cod_order(server, customer)
    day = server.api.call("GET", "/orders/admin/stats/daily", token=server.admin_token, expect=200)["to"]
    stats = server.api.call(
        "GET", f"/orders/admin/stats?startDate={day}&endDate={day}", token=server.admin_token, expect=200
    )
    page = new_page()
    login_as(page, server, server.admin_token, f"/admin#/?from={day}&to={day}")
    expect(page.get_by_text(re.compile("orders still waiting for their payment and cancelled orders are left out"))).to_be_visible()
    o = stats["overview"]
    expect(page.locator("[data-kpi=orders]")).to_have_text(str(o["saleOrders"]))
    assert float(page.locator("[data-kpi=sales]").get_attribute("data-value")) == o["saleAmount"]
    assert o["saleOrders"] >= 1 and o["ordersToFulfil"] >= 1
    expect(page.get_by_role("region", name="Top products")).to_contain_text("Ruby Test Lipstick")
    shot(page, "dashboard-one-set")
    page.get_by_role("region", name="Orders to fulfil").get_by_role("link", name=re.compile("confirmed$")).click()
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()
    expect(page.get_by_label("Status", exact=True)).to_have_value("confirmed")
    # A range without orders says so in words, not with bare headings.
    page.goto(server.url("/admin#/?from=2001-01-01&to=2001-01-02"))
    expect(page.get_by_text("No sales in this range yet, so no top products.")).to_be_visible()
    expect(page.get_by_text("No orders were placed in this range.")).to_be_visible()
    shot(page, "dashboard-empty")
