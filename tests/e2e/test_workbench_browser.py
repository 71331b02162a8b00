"""The app in a real browser: nothing shows without signing in; an analyst signs in, makes a store, drops a PDF,
watches the chunk preview react, ingests it and sees its chunks. Screenshots land in tests/e2e/screenshots/."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import filing_pages, make_pdf
from tests.e2e.conftest import (
    NAV,
    ROOT,
    SHOTS,
    Server,
    create_store,
    idle,
    open_cited_page,
    open_page,
    shot,
    sign_in,
    workbench_of,
)

pytestmark = pytest.mark.slow
PAGES = tuple(sorted(p.stem for p in (ROOT / "pages").glob("[!_]*.py")))  # every page, a new one too (audit)
PASSWORD = "analyst-password-1"


def test_no_page_shows_anything_without_signing_in(server: Server, page: Any) -> None:
    """A freshly started server serves pages/*.py by URL before app.py ever ran: each must stay empty."""
    for name in PAGES:
        page.goto(f"{server.url}/{name}")
        page.wait_for_selector('[data-testid="stApp"]')
        page.wait_for_timeout(1500)
        shot(page, f"00-direct-{name}")
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert main.strip() in ("", "Welcome to RAG Workbench"), f"/{name} showed: {main[:200]!r}"
        assert page.locator('[data-testid="stFileUploader"], [data-testid="stDataFrame"], h1').count() == 0 or (
            "Welcome to RAG Workbench" in main
        )
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # pages/ is never listed by itself


def test_an_analyst_signs_in_fills_a_store_and_sees_its_chunks(server: Server, page: Any, tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    page.goto(server.url)
    page.get_by_role("button", name="Create administrator").wait_for()
    timings["first paint of the sign-in page after start (s)"] = time.perf_counter() - server.started
    idle(page)
    shot(page, "01-first-run")
    page.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()

    page.get_by_role("button", name="Sign in").wait_for()
    idle(page)
    shot(page, "02-login")
    page.get_by_label("Username", exact=True).fill("admin")
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong user name or password.").wait_for()
    idle(page)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Stores").wait_for()
    idle(page)
    shot(page, "03-stores-empty")

    page.get_by_label("Name", exact=True).fill("finance")
    page.get_by_role("button", name="Create store").click()
    page.get_by_text("Manage a store").wait_for()
    page.locator('[data-testid="stDataFrame"]').filter(has_text="finance").wait_for()
    shot(page, "04-store-created")

    open_page(page, "Users")
    page.get_by_label("New group").fill("analysts")
    page.get_by_role("button", name="Create group").click()
    page.locator('[data-testid="stDataFrame"]').filter(has_text="analysts").wait_for()
    open_page(page, "Stores")
    page.locator('[data-testid="stMultiSelect"]').filter(has_text="People and groups").click()
    page.get_by_role("option", name="group: analysts").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Share", exact=True).click()
    page.get_by_text("The group analysts now has viewer access to 'finance'.").wait_for()
    idle(page)
    shot(page, "04b-store-shared-with-a-group")

    pdf = tmp_path / "annual-report.pdf"
    pdf.write_bytes(make_pdf(filing_pages(30)))
    page.locator(NAV, has_text="Upload").click()
    page.get_by_role("heading", name="Upload").wait_for()
    idle(page)
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x90\x00 a program, not a document")
    page.locator('input[type="file"]').set_input_files([str(pdf), str(program)])
    page.get_by_text(re.compile(r"setup\.exe: Windows programs \(\.exe\) cannot be added")).wait_for()
    page.locator('[data-testid="stDataFrame"]').filter(has_text="annual-report.pdf").wait_for()  # the plan per file
    chunks = page.locator('[data-testid="stMetric"]').filter(has_text="Chunks").locator('[data-testid="stMetricValue"]')
    chunks.wait_for()
    idle(page)
    before = chunks.inner_text()
    shot(page, "05-preview")

    track = page.locator('[data-testid="stSlider"]').first.locator('[role="group"] > div').first  # Chunk size
    box = track.bounding_box()
    moves = []
    for share in (0.03, 0.6, 0.1):  # click along the track, as a person drags the thumb
        pressed = time.perf_counter()
        page.mouse.click(box["x"] + box["width"] * share, box["y"] + box["height"] / 2)
        value = page.locator('[data-testid="stSliderThumbValue"]').first.inner_text().strip()
        page.wait_for_function("(text) => document.body.innerText.includes(text)", arg=f"chunks of {value} characters")
        moves.append((time.perf_counter() - pressed) * 1000)
        idle(page)
        if share == 0.03:
            small = chunks.inner_text()
            assert int(small.replace(",", "")) > int(before.replace(",", ""))  # smaller chunks, more of them
            shot(page, "06-preview-small-chunks")
    timings["preview update per slider move in the browser (ms, median)"] = sorted(moves)[len(moves) // 2]
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)  # large chunks: a quick ingest
    idle(page)

    page.get_by_role("button", name=re.compile(r"Add 1 file to 'finance'")).click()
    page.get_by_text("1 added, 0 already there, 0 failed.").wait_for(timeout=180_000)  # added in the background
    idle(page)
    shot(page, "07-ingested")

    page.locator(NAV, has_text="Documents").click()
    page.get_by_role("heading", name="Documents").wait_for()
    page.get_by_text("Chunk 1 · Page 1").wait_for()
    idle(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "20 of 30 chunks match" not in main and "30 of 30 chunks match · showing 1–20" in main
    page.get_by_label("Find in this document's chunks").fill("Serengeti")
    page.get_by_label("Find in this document's chunks").press("Enter")
    page.get_by_text(re.compile(r"^6 of 30 chunks match")).wait_for()
    idle(page)
    page.get_by_text(re.compile(r"^Chunk 3 · Page 3")).click()
    page.get_by_role("button", name="Disable this chunk").first.click()
    page.get_by_text(re.compile(r"^Disabled: searches and chat leave it out")).wait_for()
    idle(page)
    shot(page, "08-documents-chunk-search-and-disable")
    page.get_by_role("button", name="Enable this chunk").first.click()
    page.get_by_text(re.compile(r"^Retrieved · last changed by admin")).wait_for()
    idle(page)

    page.locator(NAV, has_text="Search").click()
    page.get_by_role("heading", name="Search").wait_for()
    idle(page)
    page.get_by_label("Query").fill("Zebras migrate across the Serengeti plains")
    page.get_by_label("Query").press("Enter")
    page.wait_for_function("() => /\\d+ results? in [\\d.]+ s/.test(document.body.innerText)")
    idle(page)
    shot(page, "09-search-results-first-screen")
    first = page.get_by_text(re.compile(r"^1\. annual-report\.pdf")).bounding_box()
    assert first and first["y"] + first["height"] < 900  # the first result is on the first screen
    page.get_by_text("Compare two settings").click()
    idle(page)
    page.get_by_role("button", name="Settings B").click()
    pressed = time.perf_counter()
    page.locator('[data-testid="stButtonGroup"]').last.get_by_text("vector", exact=True).click()  # side B: vector only
    page.keyboard.press("Escape")
    page.wait_for_function("() => (document.body.innerText.match(/\\d+ results? in [\\d.]+ s/g) || []).length === 2")
    timings["compare, both sides, in the browser (ms)"] = (time.perf_counter() - pressed) * 1000
    idle(page)
    shot(page, "10-search-compare")
    assert "Page 3" in page.locator('[data-testid="stMain"]').inner_text()

    page.locator(NAV, has_text="Chat").click()
    idle(page)
    chat_box = page.locator('[data-testid="stChatInputTextArea"]')
    asked = time.perf_counter()
    chat_box.fill("When do zebras migrate across the Serengeti?")
    chat_box.press("Enter")
    # a quoted answer can be saved before the page first polls the running job: either state ends the wait
    page.wait_for_function(
        "() => /Searched finance: \\d+ sources/.test(document.body.innerText)"
        " || /Regenerate the last answer/.test(document.body.innerText)",
        timeout=120_000,
    )
    timings["chat: question to first words with the local model (s)"] = time.perf_counter() - asked
    shot(page, "11-chat-streaming")
    regenerate = page.get_by_role("button", name="Regenerate the last answer")
    regenerate.wait_for(timeout=120_000)  # the answer ended and the page shows the saved conversation
    idle(page, timeout=120_000)
    answer = page.locator('[data-testid="stChatMessage"]').nth(1)
    assert answer.locator('[data-testid="stExpander"]').count() or "Also retrieved" in answer.inner_text()
    shot(page, "12-chat-answered")

    choose_model(page, "slow-provider")  # a provider streaming slowly: Stop ends it, the words so far are kept
    chat_box.fill("Summarise the report.")
    chat_box.press("Enter")
    page.get_by_text("The report covers").wait_for(timeout=60_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped before the end.").wait_for(timeout=60_000)
    idle(page)
    shot(page, "13-chat-stopped")
    assert "The report covers" in page.locator('[data-testid="stChatMessage"]').last.inner_text()

    chat_box.fill("Summarise the whole report.")  # leave the page mid-answer: it goes on and is kept whole
    chat_box.press("Enter")
    page.wait_for_function(  # the new answer is streaming (the stopped one above says the same words)
        "() => (document.body.innerText.match(/The report covers/g) || []).length >= 2", timeout=60_000
    )
    page.locator(NAV, has_text="Stores").click()
    page.get_by_role("heading", name="Stores").wait_for()
    idle(page)
    page.locator(NAV, has_text="Chat").click()
    regenerate.wait_for(timeout=180_000)  # the answer ended while the analyst was away
    idle(page)
    shot(page, "13b-chat-answer-kept-while-away")
    last = page.locator('[data-testid="stChatMessage"]').last.inner_text()
    assert last.count("several matters in turn") == 100 and "Stopped before the end." not in last

    page.get_by_role("button", name="New chat").click()
    idle(page)
    choose_model(page, "scripted-inventor")  # a model that invents a figure: the answer says so, calmly
    chat_box.fill("How often do zebras cross the Serengeti?")
    chat_box.press("Enter")
    page.get_by_text("1 figure in this answer does not appear in the sources: 75469.").wait_for(timeout=120_000)
    idle(page)
    shot(page, "13c-chat-unsupported-figure")

    page.get_by_role("button", name="New chat").click()
    idle(page)
    choose_model(page, "scripted-citer")  # a provider whose answer cites [1]
    chat_box.fill("When do zebras migrate across the Serengeti?")
    chat_box.press("Enter")
    regenerate.wait_for(timeout=120_000)
    idle(page)
    cited = page.locator('[data-testid="stChatMessage"] [data-testid="stExpander"]').filter(
        has_text="[1] annual-report.pdf"
    )
    the_cited_one = cited.get_by_text(re.compile(r"Chunk \d+ · Page \d+ \(the cited one\)"))
    image = cited.locator('[data-testid="stImage"] img').first  # the PDF page itself, the passage outlined
    open_cited_page(page, cited.locator("summary").last, image, also=the_cited_one)
    the_cited_one.wait_for()
    cited.locator('[data-testid="stImage"]').first.scroll_into_view_if_needed()
    assert cited.get_by_text(re.compile(r"annual-report\.pdf, page \d+: the cited passage is outlined")).count()
    idle(page)
    shot(page, "14-chat-cited-source")

    page.locator(NAV, has_text="Usage").click()
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    idle(page)
    shot(page, "15-usage")
    page.locator(NAV, has_text="Audit").click()  # the scripted models count as remote: their calls are listed
    page.get_by_text("Remote calls").wait_for()
    page.locator('[data-testid="stDataFrame"]').filter(has_text="scripted-citer").wait_for()
    idle(page)
    shot(page, "16-audit")
    (SHOTS / "timings.json").write_text(json.dumps(timings, indent=2))
    print(json.dumps(timings, indent=2), f"\ntotal {time.perf_counter() - started:.1f} s")


def choose_model(page: Any, name: str) -> None:
    sidebar = page.locator('[data-testid="stSidebar"]')
    idle(page)  # the sidebar settled: under load a click during a rerun meets an inert element
    if not sidebar.get_by_text("Temperature").is_visible():
        sidebar.get_by_text("Answer settings").click()
    for attempt in range(3):  # under load the first click can land before the list is ready
        try:
            sidebar.locator('[data-testid="stSelectbox"]').first.click(timeout=15_000)
            page.locator('[role="option"]').first.wait_for(timeout=10_000)  # the list is open
            break
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")  # whatever held the page (a list half open) lets go
            idle(page)
    page.locator('[role="option"]', has_text=name).first.click()
    idle(page)
    page.wait_for_function(  # the choice took: the page says which model answers
        "(name) => [...document.querySelectorAll('[data-testid=stSidebar] [data-testid=stSelectbox]')]"
        ".some((e) => e.innerText.includes(name) || [...e.querySelectorAll('input')].some((i) => i.value === name))",
        arg=name,
    )


def test_an_upload_goes_on_through_a_reload_and_cancel_keeps_no_half_document(tmp_path: Path, page: Any) -> None:
    """A reload mid-ingest loses nothing (the file goes on in the background and the page picks it up again);
    Cancel then stops it, and the long file leaves nothing behind."""
    server = Server(
        tmp_path / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD, "WORKBENCH_INGEST_BATCH_CHUNKS": "16"}
    )
    try:
        sign_in(page, server.url, "admin", PASSWORD)
        create_store(page, "finance")
        pdf = tmp_path / "long-report.pdf"
        pdf.write_bytes(make_pdf(filing_pages(150)))
        page.locator(NAV, has_text="Upload").click()
        idle(page)
        page.locator('input[type="file"]').set_input_files(str(pdf))
        page.locator('[data-testid="stMetric"]').filter(has_text="Chunks").wait_for()
        idle(page)
        track = page.locator('[data-testid="stSlider"]').first.locator('[role="group"] > div').first
        box = track.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.01, box["y"] + box["height"] / 2)  # small chunks: a long ingest
        idle(page)
        page.get_by_role("button", name=re.compile(r"Add 1 file to 'finance'")).click()
        page.wait_for_function(  # polled every frame: each batch's label shows only for a moment
            "() => { const m = document.body.innerText.match(/\\(batch (\\d+) of (\\d+)\\)/);"
            " return m && Number(m[1]) >= 2 && Number(m[1]) < Number(m[2]) }",
            timeout=120_000,
        )
        page.get_by_text(re.compile(r"s left$")).first.wait_for()  # the time left, from the measured rate
        shot(page, "08b-ingest-progress-with-estimate")
        page.reload()
        page.get_by_text("Files on their way into 'finance'").wait_for(timeout=60_000)
        page.get_by_text(re.compile(r"s left$")).first.wait_for()
        shot(page, "08c-ingest-goes-on-after-a-reload")
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("0 added, 0 already there, 0 failed. 1 cancelled.").wait_for(timeout=60_000)
        idle(page)
        shot(page, "09-cancelled")

        workbench = workbench_of(tmp_path / "data")
        deadline = time.monotonic() + 20  # the stopped run cleans up while the next one already draws the page
        while workbench.documents.of(workbench.actor("admin"), "finance") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (
            workbench.documents.of(workbench.actor("admin"), "finance") == []
        )  # no half document, not even a failed row
        store = workbench.stores.get(workbench.actor("admin"), "finance")
        assert workbench.services.backend("lancedb").count(store.collection) == 0
    finally:
        server.stop()
