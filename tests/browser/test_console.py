"""The console in a real headless Chromium: sign-in, the project picker, storage pages, API tokens."""

import email
import glob
import json
import os
import re
import urllib.error
import tempfile
import urllib.request

from kbcstorage.client import Client

from accessibility import assert_accessible

from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait


def follow(driver, by, value):
    """Clicks a link or submit button and waits until the next page has loaded in place of this one
    (a marker set on this page's window is gone from the next one)."""
    driver.execute_script("window.stowageOldPage = true")
    driver.find_element(by, value).click()

    def next_page_loaded(d):
        try:
            return d.execute_script("return !window.stowageOldPage && document.readyState === 'complete'")
        except WebDriverException:  # the page is being replaced right now
            return False

    WebDriverWait(driver, 10).until(next_page_loaded)


def capture(driver, shots, name):
    """An accessibility check, then a screenshot at desktop and at phone width."""
    assert_accessible(driver, name)
    for label, (width, height) in {"desktop": (1280, 800), "phone": (390, 844)}.items():
        driver.set_window_size(width, height)
        driver.save_screenshot(os.path.join(shots, f"{name}-{label}.png"))
    driver.set_window_size(1280, 800)


def api(url, token, path, body=None):
    """A Storage API call; (status, parsed JSON body)."""
    request = urllib.request.Request(
        f"{url}/v2/storage{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-StorageApi-Token": token, "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def create_bucket(url, token, name):
    status, _ = api(url, token, "/buckets", {"name": name})
    assert status == 201


def sign_in(browser, stack):
    browser.get(f"{stack.url}/console")
    browser.find_element(By.ID, "email").send_keys(stack.email)
    browser.find_element(By.ID, "password").send_keys(stack.password)
    follow(browser, By.CSS_SELECTOR, "form[action='/console/sign-in'] button")


def test_a_person_signs_in_and_opens_a_project(stack, browser, shots):
    url = stack.url
    create_bucket(url, stack.token, "browser-sales")
    browser.get(f"{url}/console")
    capture(browser, shots, "sign-in")
    sign_in(browser, stack)
    assert browser.current_url.endswith("/console/projects")
    assert "Signed in as admin@localhost" in browser.page_source
    capture(browser, shots, "projects")
    follow(browser, By.LINK_TEXT, "Main")
    assert "in.c-browser-sales" in browser.page_source
    capture(browser, shots, "project")
    follow(browser, By.CSS_SELECTOR, "form[action='/console/sign-out'] button")
    assert browser.current_url.endswith("/console")


def test_a_wrong_password_is_explained_next_to_the_form(stack, browser, shots):
    browser.get(f"{stack.url}/console")
    browser.find_element(By.ID, "email").send_keys(stack.email)
    browser.find_element(By.ID, "password").send_keys("not the password")
    follow(browser, By.CSS_SELECTOR, "form[action='/console/sign-in'] button")
    alert = browser.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in'] .error")
    assert alert.text == "Wrong email or password."
    capture(browser, shots, "sign-in-error")


def test_a_token_holder_opens_storage_by_pasting_a_token(stack, browser):
    browser.get(f"{stack.url}/console")
    browser.find_element(By.ID, "token").send_keys(stack.token)
    follow(browser, By.CSS_SELECTOR, "form[action='/console/sign-in-token'] button")
    assert "Signed in with the token" in browser.page_source


def sent_link(data_dir, recipient, route="/tokens/shared/"):
    """The one-time link under `route` in the newest mail to `recipient` in the stack's outbox."""
    for path in sorted(glob.glob(os.path.join(data_dir, "outbox", "*.eml")), key=os.path.getmtime, reverse=True):
        with open(path, "rb") as handle:
            message = email.message_from_binary_file(handle)
        if recipient in message["To"]:
            part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            text = part.get_payload(decode=True).decode()
            return re.search(r"https?://\S+" + re.escape(route) + r"[A-Za-z0-9_-]+", text).group(0)
    raise AssertionError(f"no mail to {recipient} in the outbox")


def test_a_limited_token_is_created_copied_refreshed_and_shared_through_the_emailed_link(stack, browser, shots):
    url = stack.url
    create_bucket(url, stack.token, "browser-partner")
    browser.execute_cdp_cmd(
        "Browser.grantPermissions", {"origin": url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}
    )
    sign_in(browser, stack)
    follow(browser, By.LINK_TEXT, "Main")
    follow(browser, By.LINK_TEXT, "API Tokens")
    capture(browser, shots, "tokens")

    browser.find_element(By.ID, "description").send_keys("partner")
    Select(browser.find_element(By.ID, "b-in.c-browser-partner")).select_by_value("read")
    browser.find_element(By.NAME, "component:keboola.wr-storage").click()
    follow(browser, By.CSS_SELECTOR, "form[action$='/tokens'] button[type=submit]")
    secret = browser.find_element(By.ID, "secret").text
    browser.find_element(By.ID, "copy").click()
    WebDriverWait(browser, 5).until(lambda b: b.find_element(By.ID, "copy").text == "Copied")
    clipboard = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0])")
    assert clipboard == secret
    status, verified = api(url, secret, "/tokens/verify")
    assert status == 200
    assert verified["bucketPermissions"] == {"in.c-browser-partner": "read"}
    capture(browser, shots, "token-created")

    follow(browser, By.LINK_TEXT, "Back")
    assert "storage.tokenCreated" in browser.page_source
    capture(browser, shots, "token-detail")
    follow(browser, By.LINK_TEXT, "Refresh…")
    capture(browser, shots, "token-refresh-confirm")
    follow(browser, By.CSS_SELECTOR, "form[action$='/refresh'] button")
    refreshed = browser.find_element(By.ID, "secret").text
    assert refreshed != secret
    assert api(url, secret, "/tokens/verify")[0] == 401
    assert api(url, refreshed, "/tokens/verify")[0] == 200

    follow(browser, By.LINK_TEXT, "Back")
    browser.find_element(By.ID, "recipientEmail").send_keys("partner@example.com")
    browser.find_element(By.ID, "message").send_keys("Your token for the sales data")
    follow(browser, By.CSS_SELECTOR, "form[action$='/share'] button")
    errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".error")]
    assert "A one-time link for partner@example.com was written to outbox/" in browser.page_source, errors

    browser.get(sent_link(stack.data_dir, "partner@example.com"))
    capture(browser, shots, "shared-link")
    follow(browser, By.CSS_SELECTOR, "form button")
    assert "Welcome!" in browser.page_source and "read bucket" in browser.page_source
    shared = browser.find_element(By.ID, "token").text
    assert api(url, shared, "/tokens/verify")[1]["description"] == "partner"
    capture(browser, shots, "shared-token")
    browser.refresh()
    assert "no longer available" in browser.page_source


def test_a_table_is_found_through_its_bucket_and_previewed(stack, browser, shots):
    create_bucket(stack.url, stack.token, "browser-stock")
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as data:
        data.write("sku,name,count\n" + "".join(f"S{i:03},item {i},{i * 3}\n" for i in range(1, 121)))
    Client(stack.url, stack.token).tables.create("in.c-browser-stock", "items", data.name, primary_key=["sku"])
    os.unlink(data.name)
    sign_in(browser, stack)
    follow(browser, By.LINK_TEXT, "Main")
    follow(browser, By.LINK_TEXT, "in.c-browser-stock")
    capture(browser, shots, "bucket")
    follow(browser, By.LINK_TEXT, "items")
    assert "<th>Rows</th><td>120</td>" in browser.page_source
    capture(browser, shots, "table")
    follow(browser, By.LINK_TEXT, "Data sample")
    assert "The first 100 of 120 rows." in browser.page_source
    header = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#preview thead th")]
    assert header == ["sku", "name", "count"]
    first = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#preview tbody tr:first-child td")]
    assert first == ["S001", "item 1", "3"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 100
    capture(browser, shots, "table-data")
    # The column filter keeps the rows whose value is the one asked for.
    Select(browser.find_element(By.ID, "filter-column")).select_by_value("count")
    browser.find_element(By.ID, "filter-value").send_keys("30")
    follow(browser, By.XPATH, "//form[contains(@class, 'filters')]//button")
    rows = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in browser.find_elements(By.CSS_SELECTOR, "#preview tbody tr")]
    assert rows == [["S010", "item 10", "30"]]


def csv_table(url, token, bucket, name, text):
    """Creates a table from CSV text through the kbcstorage client."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as data:
        data.write(text)
    Client(url, token).tables.create(bucket, name, data.name, primary_key=["id"])
    os.unlink(data.name)


def job_outcome(browser):
    """The status of the job whose page is open, once the job has ended (the page reloads until then)."""
    def ended(d):
        status = d.find_element(By.ID, "status").text
        return status if status not in ("created", "processing", "terminating") else None

    # The page may reload between finding the element and reading it: a stale or missing element is
    # read again on the next poll rather than failing the test.
    waiting = WebDriverWait(
        browser, 60, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    )
    return waiting.until(ended)


def row_of(browser, name):
    """The row of the configuration's table list whose table is `name`."""
    return browser.find_element(By.XPATH, f"//table[@id='tables']//tr[td/a[text()='{name}']]")


def test_a_writer_is_configured_to_a_second_stack_and_its_run_delivers_the_enabled_table(
    stack, target, browser, shots
):
    create_bucket(stack.url, stack.token, "browser-out")
    csv_table(stack.url, stack.token, "in.c-browser-out", "orders", "id,total\n1,10\n2,20\n")
    csv_table(stack.url, stack.token, "in.c-browser-out", "people", "id,name\n1,Ann\n2,Bob\n3,Cy\n")
    create_bucket(target.url, target.token, "from-browser")
    status, created = api(
        target.url, target.token, "/tokens",
        {"description": "writer from the other stack", "bucketPermissions": {"in.c-from-browser": "write"}},
    )
    assert status == 200 or status == 201, created
    writer_token = created["token"]

    sign_in(browser, stack)
    follow(browser, By.LINK_TEXT, "Main")
    follow(browser, By.LINK_TEXT, "Storage Writer")
    capture(browser, shots, "writer-configurations")
    browser.find_element(By.ID, "name").send_keys("To the other stack")
    follow(browser, By.XPATH, "//button[text()='Create configuration']")
    assert "Not set up yet" in browser.find_element(By.ID, "reach").text

    Select(browser.find_element(By.ID, "region")).select_by_visible_text(f"other ({target.url})")
    browser.find_element(By.ID, "token").send_keys(writer_token)
    follow(browser, By.XPATH, "//form[contains(@action,'/target')]//button")
    reach = browser.find_element(By.ID, "reach").text
    assert "Writes to project Main" in reach and "bucket in.c-from-browser" in reach, reach
    assert writer_token not in browser.page_source
    capture(browser, shots, "writer-target")

    for table in ["in.c-browser-out.orders", "in.c-browser-out.people"]:
        Select(browser.find_element(By.ID, "source")).select_by_value(table)
        follow(browser, By.ID, "new-table")
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#tables tbody td:first-child a")]
    assert names == ["in.c-browser-out.orders", "in.c-browser-out.people"]

    # The search filters the list as one types.
    browser.find_element(By.ID, "search").send_keys("peo")
    assert not row_of(browser, "in.c-browser-out.orders").is_displayed()
    assert row_of(browser, "in.c-browser-out.people").is_displayed()
    browser.find_element(By.ID, "search").clear()

    follow_in = lambda name, label: follow(  # noqa: E731
        browser, By.XPATH, f"//table[@id='tables']//tr[td/a[text()='{name}']]//button[text()='{label}']"
    )
    follow_in("in.c-browser-out.people", "Up")
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#tables tbody td:first-child a")]
    assert names == ["in.c-browser-out.people", "in.c-browser-out.orders"]
    follow_in("in.c-browser-out.orders", "Disable")
    assert "Disabled" in row_of(browser, "in.c-browser-out.orders").text

    # Per-table settings: a different name in the target bucket.
    follow(browser, By.LINK_TEXT, "in.c-browser-out.people")
    destination = browser.find_element(By.ID, "destination")
    destination.clear()
    destination.send_keys("persons")
    capture(browser, shots, "writer-table")
    follow(browser, By.XPATH, "//button[text()='Save']")
    assert "in.c-browser-out.people → persons" in row_of(browser, "in.c-browser-out.people").text
    capture(browser, shots, "writer")

    follow(browser, By.ID, "run-all")
    assert job_outcome(browser) == "success", browser.page_source
    log = browser.find_element(By.ID, "log").text
    assert 'Table "persons" processed: 3 rows' in log and "orders" not in log
    capture(browser, shots, "job")

    status, persons = api(target.url, target.token, "/tables/in.c-from-browser.persons")
    assert status == 200 and persons["rowsCount"] == 3, persons
    assert api(target.url, target.token, "/tables/in.c-from-browser.orders")[0] == 404
    follow(browser, By.LINK_TEXT, "To the other stack")
    assert browser.find_element(By.CSS_SELECTOR, "#jobs .job-status").text == "success"


def test_a_csv_is_uploaded_with_progress_into_a_new_table_added_to_and_downloaded(stack, browser, shots, tmp_path):
    folder = str(tmp_path / "upload")
    os.mkdir(folder)
    first = os.path.join(folder, "first.csv")
    with open(first, "w") as out:
        out.write("id,city\n" + "".join(f"{i},city {i}\n" for i in range(1, 201)))
    sign_in(browser, stack)
    follow(browser, By.LINK_TEXT, "Main")
    browser.find_element(By.ID, "bucket-name").send_keys("browser-upload")
    follow(browser, By.XPATH, "//button[text()='Create bucket']")
    assert browser.current_url.endswith("/console/projects/1/buckets/in.c-browser-upload")
    capture(browser, shots, "upload")
    browser.find_element(By.ID, "file").send_keys(first)
    browser.find_element(By.ID, "new-name").send_keys("cities")
    browser.find_element(By.ID, "primary-key").send_keys("id")
    browser.find_element(By.XPATH, "//form[@id='upload']//button").click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url.endswith("/tables/in.c-browser-upload.cities"))
    assert "<th>Primary key</th><td>id</td>" in browser.page_source
    assert "<th>Rows</th><td>200</td>" in browser.page_source

    # Into the existing table, incrementally: one row changes, one is new.
    more = os.path.join(folder, "more.csv")
    with open(more, "w") as out:
        out.write("id,city\n1,Prague\n201,Brno\n")
    browser.get(f"{stack.url}/console/projects/1/buckets/in.c-browser-upload")
    browser.find_element(By.ID, "file").send_keys(more)
    Select(browser.find_element(By.ID, "into")).select_by_value("in.c-browser-upload.cities")
    browser.find_element(By.ID, "incremental").click()
    browser.find_element(By.XPATH, "//form[@id='upload']//button").click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url.endswith("/tables/in.c-browser-upload.cities"))
    assert "<th>Rows</th><td>201</td>" in browser.page_source
    follow(browser, By.LINK_TEXT, "Data sample")
    first_row = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#preview tbody tr:first-child td")]
    assert first_row == ["1", "Prague"]

    # A broken file: the bar shows the whole file arrived, the error says what is wrong, nothing changes.
    broken = os.path.join(folder, "broken.csv")
    with open(broken, "w") as out:
        out.write("id,city\n" + "".join(f"{i},x\n" for i in range(1, 50001)) + '7,"never closed\n')
    browser.get(f"{stack.url}/console/projects/1/buckets/in.c-browser-upload")
    browser.find_element(By.ID, "file").send_keys(broken)
    Select(browser.find_element(By.ID, "into")).select_by_value("in.c-browser-upload.cities")
    browser.find_element(By.XPATH, "//form[@id='upload']//button").click()
    error = browser.find_element(By.ID, "upload-error")
    WebDriverWait(browser, 30).until(lambda d: error.is_displayed())
    assert "line" in error.text, error.text
    progress = browser.find_element(By.ID, "upload-progress")
    assert progress.is_displayed() and progress.get_attribute("value") == "100"
    capture(browser, shots, "upload-error")
    assert api(stack.url, stack.token, "/tables/in.c-browser-upload.cities")[1]["rowsCount"] == 201

    # The download: the whole table as CSV, saved by the browser.
    downloads = str(tmp_path / "downloads")
    os.mkdir(downloads)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    browser.get(f"{stack.url}/console/projects/1/tables/in.c-browser-upload.cities")
    browser.find_element(By.ID, "download").click()
    saved = os.path.join(downloads, "in.c-browser-upload.cities.csv")
    WebDriverWait(browser, 30).until(lambda d: os.path.exists(saved) and not glob.glob(downloads + "/*.crdownload"))
    with open(saved) as data:
        lines = data.read().splitlines()
    assert lines[0] == '"id","city"' and len(lines) == 202
    assert '"1","Prague"' in lines and '"201","Brno"' in lines


def test_an_extractor_brings_a_table_from_a_second_stack_with_its_settings(stack, target, browser, shots):
    create_bucket(target.url, target.token, "to-share")
    csv_table(target.url, target.token, "in.c-to-share", "customers", "id,name\n1,Ann\n2,Bob\n")
    status, created = api(
        target.url, target.token, "/tokens",
        {"description": "extractor from the other stack", "bucketPermissions": {"in.c-to-share": "read"}},
    )
    assert status in (200, 201), created

    sign_in(browser, stack)
    follow(browser, By.LINK_TEXT, "Main")
    follow(browser, By.LINK_TEXT, "Storage Extractor")
    browser.find_element(By.ID, "name").send_keys("From the other stack")
    follow(browser, By.XPATH, "//button[text()='Create configuration']")
    Select(browser.find_element(By.ID, "region")).select_by_visible_text(f"other ({target.url})")
    browser.find_element(By.ID, "token").send_keys(created["token"])
    follow(browser, By.XPATH, "//form[contains(@action,'/target')]//button")
    reach = browser.find_element(By.ID, "reach").text
    assert "Reads from project Main" in reach and "bucket in.c-to-share" in reach, reach
    offered = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#source-tables option")]
    assert offered == ["customers"]

    browser.find_element(By.ID, "tableName").send_keys("customers")
    follow(browser, By.ID, "new-table")
    follow(browser, By.LINK_TEXT, "customers")
    browser.find_element(By.NAME, "incremental").click()
    browser.find_element(By.ID, "primaryKey").send_keys("id")
    capture(browser, shots, "extractor-table")
    follow(browser, By.XPATH, "//button[text()='Save']")
    assert "customers; incremental; primary key id" in row_of(browser, "customers").text
    capture(browser, shots, "extractor")

    follow(browser, By.XPATH, "//table[@id='tables']//tr[td/a[text()='customers']]//button[text()='Run']")
    assert job_outcome(browser) == "success", browser.page_source
    config_id = browser.find_element(By.LINK_TEXT, "From the other stack").get_attribute("href").rsplit("/", 1)[1]
    status, table = api(stack.url, stack.token, f"/tables/in.c-keboola-ex-storage-{config_id}.customers")
    assert status == 200 and table["rowsCount"] == 2 and table["primaryKey"] == ["id"], table


def test_a_schedule_and_a_trigger_are_added_on_a_writer_page_and_deleted_there(stack, browser, shots):
    create_bucket(stack.url, stack.token, "browser-automation")
    csv_table(stack.url, stack.token, "in.c-browser-automation", "events", "id,kind\n1,a\n")
    status, config = api(stack.url, stack.token, "/components/keboola.wr-storage/configs", {"name": "Synced"})
    assert status == 201, config
    status, _ = api(stack.url, stack.token, f"/components/keboola.wr-storage/configs/{config['id']}/rows", {
        "name": "events",
        "configuration": {"storage": {"input": {"tables": [
            {"source": "in.c-browser-automation.events", "destination": "events"}]}}},
    })
    assert status == 201

    sign_in(browser, stack)
    browser.get(f"{stack.url}/console/projects/1/components/keboola.wr-storage/{config['id']}")
    assert "No schedules." in browser.page_source
    browser.find_element(By.ID, "schedule-cron").send_keys("0 6 * * 1-5")
    timezone = browser.find_element(By.ID, "schedule-timezone")
    timezone.clear()
    timezone.send_keys("Europe/Prague")
    follow(browser, By.XPATH, "//form[@id='new-schedule']//button")
    assert browser.current_url.endswith("#schedules")
    when = browser.find_element(By.CSS_SELECTOR, "#schedules td[data-label='When']").text
    assert when == "0 6 * * 1-5 (Europe/Prague)", when

    tables = browser.find_element(By.ID, "trigger-tables")
    assert tables.get_attribute("value") == "in.c-browser-automation.events"
    cool_down = browser.find_element(By.ID, "trigger-cool-down")
    cool_down.clear()
    cool_down.send_keys("15")
    follow(browser, By.XPATH, "//form[@id='new-trigger']//button")
    assert browser.current_url.endswith("#triggers")
    row = browser.find_element(By.CSS_SELECTOR, "#triggers tbody tr")
    assert "in.c-browser-automation.events" in row.text and "15 min" in row.text, row.text
    capture(browser, shots, "writer-automation")

    # Deleting asks first (data-confirm); the test accepts the question.
    browser.find_element(By.XPATH, "//table[@id='triggers']//button[text()='Delete']").click()
    browser.switch_to.alert.accept()
    WebDriverWait(browser, 10).until(lambda d: "No triggers" in d.page_source)
    browser.find_element(By.XPATH, "//table[@id='schedules']//button[text()='Delete']").click()
    browser.switch_to.alert.accept()
    WebDriverWait(browser, 10).until(lambda d: "No schedules." in d.page_source)
    status, schedules = 0, None
    request = urllib.request.Request(f"{stack.url}/scheduler/schedules", headers={"X-StorageApi-Token": stack.token})
    with urllib.request.urlopen(request) as response:
        status, schedules = response.status, json.load(response)
    assert (status, schedules) == (200, [])


def test_the_header_leads_to_jobs_and_events_and_the_layout_holds_at_phone_width(stack, browser, shots):
    url = stack.url
    create_bucket(url, stack.token, "browser-activity")
    sign_in(browser, stack)
    follow(browser, By.LINK_TEXT, "Main")
    # The stylesheet applies (the CSP allows no inline style): the header bar is coloured.
    header = browser.find_element(By.CSS_SELECTOR, "header.top")
    assert header.value_of_css_property("background-color") == "rgba(11, 37, 69, 1)"
    # The search box hides buckets whose id does not match, as one types.
    create_bucket(url, stack.token, "browser-other")
    browser.refresh()
    browser.find_element(By.ID, "storage-search").send_keys("activity")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr[data-search]")
    shown = [row.text for row in rows if row.is_displayed()]
    assert len(shown) == 1 and "in.c-browser-activity" in shown[0]
    follow(browser, By.LINK_TEXT, "Events")
    assert browser.find_element(By.CSS_SELECTOR, "nav.sections a[aria-current]").text == "Events"
    assert "storage.bucketCreated" in browser.find_element(By.ID, "events").text
    browser.find_element(By.ID, "q").send_keys("objectId:in.c-browser-other")
    follow(browser, By.CSS_SELECTOR, "form[role=search] button")
    assert "in.c-browser-other" in browser.find_element(By.ID, "events").text
    assert "in.c-browser-activity" not in browser.find_element(By.ID, "events").text
    follow(browser, By.LINK_TEXT, "Jobs")
    capture(browser, shots, "jobs")
    browser.set_window_size(390, 844)
    # At phone width the sections and sign-out stay reachable, and nothing overflows the page.
    assert browser.find_element(By.CSS_SELECTOR, "form[action='/console/sign-out'] button").is_displayed()
    assert browser.find_element(By.LINK_TEXT, "API Tokens").is_displayed()
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.set_window_size(1280, 800)


def test_an_admin_adds_a_member_who_sets_a_password_from_the_mailed_link_and_signs_in(stack, browser, shots):
    sign_in(browser, stack)
    follow(browser, By.LINK_TEXT, "Main")
    follow(browser, By.LINK_TEXT, "Users & Settings")
    capture(browser, shots, "users")
    browser.find_element(By.ID, "member-email").send_keys("dana@example.com")
    Select(browser.find_element(By.ID, "member-role")).select_by_value("readOnly")
    follow(browser, By.XPATH, "//button[text()='Add member']")
    notice = browser.find_element(By.CSS_SELECTOR, "p[role=status]").text
    assert notice.startswith("Added dana@example.com as readOnly.") and "outbox/" in notice, notice
    assert "dana@example.com" in browser.find_element(By.ID, "members").text
    follow(browser, By.CSS_SELECTOR, "form[action='/console/sign-out'] button")

    browser.get(sent_link(stack.data_dir, "dana@example.com", "/console/password/"))
    capture(browser, shots, "set-password")
    browser.find_element(By.ID, "new-password").send_keys("dana's long password")
    browser.find_element(By.ID, "repeat-password").send_keys("dana's long password")
    follow(browser, By.XPATH, "//button[text()='Set password']")
    assert "Your password is set." in browser.page_source
    follow(browser, By.LINK_TEXT, "Sign in")
    browser.find_element(By.ID, "email").send_keys("dana@example.com")
    browser.find_element(By.ID, "password").send_keys("dana's long password")
    follow(browser, By.CSS_SELECTOR, "form[action='/console/sign-in'] button")
    assert "Signed in as dana@example.com" in browser.page_source
    follow(browser, By.LINK_TEXT, "Main")
    follow(browser, By.LINK_TEXT, "Users & Settings")
    assert not browser.find_elements(By.ID, "member-email"), "a readOnly member adds no one"


def test_a_tables_key_is_changed_and_a_table_and_a_bucket_are_deleted_after_confirmation(stack, browser, shots):
    url = stack.url
    create_bucket(url, stack.token, "browser-doomed")
    csv_table(url, stack.token, "in.c-browser-doomed", "towns", "id,name\n1,Prague\n2,Brno\n")
    sign_in(browser, stack)
    browser.get(f"{url}/console/projects/1/tables/in.c-browser-doomed.towns")
    key = browser.find_element(By.ID, "key-columns")
    key.clear()
    key.send_keys("name")
    follow(browser, By.XPATH, "//button[text()='Set the primary key']")
    assert "/storage-jobs/" in browser.current_url
    WebDriverWait(browser, 20).until(lambda d: "badge-success" in d.page_source)
    capture(browser, shots, "storage-job")
    browser.get(f"{url}/console/projects/1/tables/in.c-browser-doomed.towns")
    assert "<th>Primary key</th><td>name</td>" in browser.page_source

    follow(browser, By.LINK_TEXT, "Delete this table…")
    assert "The table in.c-browser-doomed.towns and its 2 rows are deleted." in browser.page_source
    capture(browser, shots, "table-delete")
    follow(browser, By.XPATH, "//button[text()='Delete the table']")
    assert browser.current_url.endswith("/console/projects/1/buckets/in.c-browser-doomed")
    assert "No tables yet." in browser.page_source
    follow(browser, By.LINK_TEXT, "Delete this bucket…")
    assert "The bucket holds no tables." in browser.page_source
    follow(browser, By.XPATH, "//button[text()='Delete the bucket']")
    assert browser.current_url.endswith("/console/projects/1")
    assert api(url, stack.token, "/buckets/in.c-browser-doomed")[0] == 404
