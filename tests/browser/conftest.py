"""Browser tests: the real `cartwright` binary on a free port, driven by Playwright with the
system Chromium, once on SQLite and once on PostgreSQL (TEST_DATABASE_URL, a fresh schema).

Each database gets one server for the whole session, seeded through the public API: a vendor
(made by the admin) and its products. Every page a test opens is watched: a JavaScript dialog or a
console error (other than the browser's own note about an HTTP error status, which the tests
provoke on purpose) fails the test.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "target" / "screenshots"
ADMIN_EMAIL = "admin@browser.test"
ADMIN_PASSWORD = "admin-password-1"
VENDOR_EMAIL = "vendor@browser.test"
VENDOR_PASSWORD = "vendor-password-1"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TEXT = '"><script>alert(1)</script>'

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - reported by the skip below
    sync_playwright = None


def _binary():
    explicit = os.environ.get("CARTWRIGHT_BIN")
    if explicit:
        return Path(explicit).resolve()
    candidates = [ROOT / "target" / kind / "cartwright" for kind in ("release", "debug")]
    existing = [c for c in candidates if c.exists()]
    if not existing:
        pytest.exit("no target/release/cartwright or target/debug/cartwright: run cargo build first", 2)
    return max(existing, key=lambda c: c.stat().st_mtime)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """A tiny JSON client for seeding and cross-checking (the pages never use it)."""

    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, token=None, expect=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            status, payload = err.code, json.loads(err.read() or b"null")
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {payload}"
        return payload["data"] if payload and payload.get("success") else payload

    def login(self, email, password):
        return self.call("POST", "/auth/login", {"email": email, "password": password}, expect=200)["token"]

    def register(self, name):
        email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:8]}@browser.test"
        data = self.call(
            "POST", "/auth/register", {"name": name, "email": email, "password": "customer-pass-1"}, expect=201
        )
        return {"email": email, "password": "customer-pass-1", "token": data["token"], "user": data["user"]}


class Server:
    def __init__(self, db, base, api, process, workdir):
        self.db = db
        self.base = base
        self.api = api
        self.process = process
        self.workdir = workdir
        self.admin_token = None
        self.vendor_token = None
        self.products = {}

    def url(self, path=""):
        return self.base + path


def _postgres_url():
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("CI is set but TEST_DATABASE_URL is not: the PostgreSQL browser tests cannot be skipped")
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL browser tests skipped")
    schema = f"browser_{uuid.uuid4().hex[:10]}"
    subprocess.run(["psql", base, "-qc", f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-c%20search_path%3D{schema}"


def _seed(server):
    api = server.api
    server.admin_token = api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    api.call(
        "POST",
        "/admin/users",
        {"name": "Browser Test Supplies", "email": VENDOR_EMAIL, "password": VENDOR_PASSWORD, "role": "vendor"},
        token=server.admin_token,
        expect=201,
    )
    server.vendor_token = api.login(VENDOR_EMAIL, VENDOR_PASSWORD)
    image = server.url("/assets/demo/{}.svg")
    catalog = {
        "shampoo": ("Silk Salon Shampoo", 25.99, 50, "SilkCo", "hair_care", "shampoo"),
        "conditioner": ("Silk Salon Conditioner", 27.99, 40, "SilkCo", "hair_care", "conditioner"),
        "serum": ("Rare Night Serum", 42.00, 1, "GlowLab", "skin_care", "vitamin-c-serum"),
        "lipstick": ("Ruby Test Lipstick", 11.99, 30, "Luma", "makeup", "lipstick"),
        "hostile": (HOSTILE_NAME, 5.00, 20, "Evil", "tools", "cuticle-nipper"),
    }
    for key, (name, price, stock, brand, category, picture) in catalog.items():
        server.products[key] = api.call(
            "POST",
            "/products",
            {
                "name": name,
                "description": HOSTILE_TEXT if key == "hostile" else f"{name} for the browser tests.",
                "price": price,
                "stock": stock,
                "brand": brand,
                "category": category,
                "imageUrls": [image.format(picture)],
            },
            token=server.vendor_token,
            expect=201,
        )


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request):
    db = request.param
    database_url = _postgres_url() if db == "postgres" else None
    workdir = Path(tempfile.mkdtemp(prefix=f"cartwright-browser-{db}-"))
    if database_url is None:
        database_url = f"sqlite://{workdir / 'shop.db'}"
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATA_DIR": str(workdir),
        "JWT_SECRET": "browser-test-secret-browser-test-secret",
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DEMO_DATA": "true",
        "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
        "PAYMENT_GATEWAY": "simulated",
        "RUST_LOG": "warn",
        "LOG_FORMAT": "pretty",
    }
    for var in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        env.pop(var, None)
    log = open(workdir / "server.log", "wb")
    process = subprocess.Popen([str(_binary())], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    api = Api(base)
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
    srv = Server(db, base, api, process, workdir)
    _seed(srv)
    yield srv
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    if sync_playwright is None or not Path(CHROMIUM).exists():
        reason = "playwright (pip install playwright pytest) or chromium (apt-get install chromium) is missing"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


# The browser's own console line for an HTTP error answer (a 401, 404 or 409 the test provokes);
# the page shows the API's message in place, which the tests check.
HTTP_STATUS_NOTE = re.compile(r"^Failed to load resource: the server responded with a status of (4\d\d)")


class Watch:
    """Collects dialogs and console errors of every page in a context."""

    def __init__(self):
        self.problems = []

    def attach(self, page):
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: m.type == "error"
            and not HTTP_STATUS_NOTE.match(m.text)
            and self.problems.append(f"console error: {m.text}"),
        )


@pytest.fixture
def new_page(browser, server, request):
    """new_page(width=1280) opens a page in a fresh context (its own session)."""
    watch = Watch()
    contexts = []

    def make(width=1280, height=900):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=server.base)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        watch.attach(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not watch.problems, watch.problems


@pytest.fixture
def shot(server, request):
    """shot(page, "name") writes target/screenshots/<db>/<test>/<n>-name.png."""
    folder = SHOTS / server.db / request.node.name.split("[")[0]
    folder.mkdir(parents=True, exist_ok=True)
    counter = {"n": 0}

    def take(page, name):
        counter["n"] += 1
        page.screenshot(path=str(folder / f"{counter['n']:02d}-{name}.png"), full_page=True)

    return take


SESSION_COOKIE = "cartwright_session"


def login_as(page, server, token, path="/"):
    """Opens `path` already logged in: the session cookie set as the login answer sets it
    (HttpOnly, SameSite=Strict), so the page finds its session the way it does after a reload
    (GET /auth/session). Nothing goes into the page's storage."""
    me = server.api.call("GET", "/auth/me", token=token, expect=200)
    page.context.add_cookies(
        [{"name": SESSION_COOKIE, "value": token, "url": server.base, "httpOnly": True, "sameSite": "Strict"}]
    )
    page.goto(server.url(path))
    page.reload()
    return me
