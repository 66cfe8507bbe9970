"""The console in a real headless Chromium: sign-in, the project picker, a project's buckets."""

import json
import os
import urllib.request

from selenium.webdriver.common.by import By


def capture(driver, shots, name):
    """A screenshot at desktop and at phone width."""
    for label, (width, height) in {"desktop": (1280, 800), "phone": (390, 844)}.items():
        driver.set_window_size(width, height)
        driver.save_screenshot(os.path.join(shots, f"{name}-{label}.png"))
    driver.set_window_size(1280, 800)


def create_bucket(url, token, name):
    request = urllib.request.Request(
        f"{url}/v2/storage/buckets",
        data=json.dumps({"name": name}).encode(),
        headers={"X-StorageApi-Token": token, "Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).read()


def test_a_person_signs_in_and_opens_a_project(stack, browser, shots):
    url, email, password, token = stack
    create_bucket(url, token, "browser-sales")
    browser.get(f"{url}/console")
    capture(browser, shots, "sign-in")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in'] button").click()
    assert browser.current_url.endswith("/console/projects")
    assert "Signed in as admin@localhost" in browser.page_source
    capture(browser, shots, "projects")
    browser.find_element(By.LINK_TEXT, "Main").click()
    assert "in.c-browser-sales" in browser.page_source
    capture(browser, shots, "project")
    browser.find_element(By.CSS_SELECTOR, "form[action='/console/sign-out'] button").click()
    assert browser.current_url.endswith("/console")


def test_a_wrong_password_is_explained_next_to_the_form(stack, browser, shots):
    url, email, _, _ = stack
    browser.get(f"{url}/console")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in'] button").click()
    alert = browser.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in'] .error")
    assert alert.text == "Wrong email or password."
    capture(browser, shots, "sign-in-error")


def test_a_token_holder_opens_storage_by_pasting_a_token(stack, browser):
    url, _, _, token = stack
    browser.get(f"{url}/console")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in-token'] button").click()
    assert "Signed in with the token" in browser.page_source
