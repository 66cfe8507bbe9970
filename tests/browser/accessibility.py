"""An accessibility check of the page a browser shows, with axe-core (Deque's rules engine, as the
browser extensions use it), fetched once from the npm registry, pinned and checked by its hash."""

import base64
import hashlib
import io
import os
import tarfile
import urllib.request

AXE_VERSION = "4.10.3"
AXE_TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz"
AXE_INTEGRITY = "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=="

# The impacts that fail a page; "minor" and "moderate" findings are printed, not failed.
FAILING = ("serious", "critical")

_source = None


def axe_source():
    """axe.min.js of the pinned release, from the cache or the registry."""
    global _source
    if _source is None:
        cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "stowage-browser")
        path = os.path.join(cache, f"axe-core-{AXE_VERSION}.tgz")
        if not os.path.exists(path):
            os.makedirs(cache, exist_ok=True)
            with urllib.request.urlopen(AXE_TARBALL, timeout=60) as response:
                data = response.read()
            with open(path + ".part", "wb") as out:
                out.write(data)
            os.replace(path + ".part", path)
        with open(path, "rb") as tarball:
            data = tarball.read()
        digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if digest != AXE_INTEGRITY:
            os.remove(path)
            raise RuntimeError(f"{AXE_TARBALL} does not match its pinned hash; removed it, run again")
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            _source = archive.extractfile("package/axe.min.js").read().decode()
    return _source


def violations(driver):
    """The page's WCAG 2.1 A and AA violations, as (impact, rule, help, the first offending element)."""
    driver.execute_script(axe_source())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},"
        " resultTypes: ['violations']}).then(r => done(r.violations.map(v => [v.impact, v.id, v.help,"
        " v.nodes.length ? v.nodes[0].html : ''])), e => done([['critical', 'axe-error', String(e), '']]));"
    )
    return [tuple(v) for v in result]


def assert_accessible(driver, name):
    """Fails on a serious or critical violation; prints the others."""
    found = violations(driver)
    for impact, rule, help_text, element in found:
        if impact not in FAILING:
            print(f"accessibility ({name}): {impact} {rule}: {help_text} {element[:120]}")
    failing = [v for v in found if v[0] in FAILING]
    assert not failing, f"accessibility of {name} ({driver.current_url}): {failing}"
