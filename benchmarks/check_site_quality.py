"""axe-core and Lighthouse on the site's pages, printed as one table; exits 1 when a target is missed.

    make check-site-quality       # or: .venv/bin/python benchmarks/check_site_quality.py

The site is served as in production (gunicorn, DEBUG off, collected static files) on a SQLite file
in a temporary folder with the embedded WPP2019 file imported (what `make run` serves; the import
computes the accuracy page's backtests) and one stored run. Then, for each page:

- axe-core (vendored in tests/vendor/axe-core, every rule it runs by default) in Chromium at 1366 px
  and 390 px: the number of violations at each width, and which rules;
- Lighthouse (npm package, pinned below, installed on first use into .cache/lighthouse; Debian's
  Chromium, headless; its default mobile profile with simulated throttling): the four scores.

Targets (issue "Site v2"): no axe violation on any page; Lighthouse 100 in accessibility, best
practices and SEO and at least 95 in performance on home, run, region and accuracy pages. The other
pages' Lighthouse scores are printed for information. Needs Node.js with npm and /usr/bin/chromium.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "reliability"))

import common  # noqa: E402

ROOT = common.ROOT
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
LIGHTHOUSE_VERSION = "13.5.0"
LIGHTHOUSE_DIR = ROOT / ".cache" / "lighthouse"
LIGHTHOUSE = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}
WIDTHS = [(1366, 900), (390, 844)]
# name: (path, held to the Lighthouse targets)
PAGES = {
    "home": ("/", True),
    "run": ("/runs/{run}/", True),
    "region": ("/regions/250/", True),
    "accuracy": ("/accuracy/", True),
    "runs": ("/runs/", False),
    "regions": ("/regions/", False),
    "world": ("/world/", False),
    "run embed": ("/runs/{run}/embed/", False),
}


def serve_site(folder: Path) -> tuple[common.Gunicorn, int]:
    """Migrate a SQLite file, import WPP2019, store one run; the server (not yet started) and the run."""
    env = {**common.ENV, "DATABASE_URL": f"sqlite:///{folder}/site.sqlite3"}
    env.pop("REDIS_URL", None)
    for arguments in [
        ["migrate", "--noinput", "-v0"],
        ["collectstatic", "--noinput", "-v0"],
        ["import_wpp"],
        [
            "forecast",
            "--region",
            "900",
            "--region",
            "250",
            "--from",
            "2030",
            "--to",
            "2050",
            "--save",
        ],
    ]:
        result = subprocess.run(
            [common.PYTHON, "manage.py", *arguments],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{result.stderr}")
    run = int(re.search(r"Saved forecast run (\d+)", result.stdout + result.stderr).group(1))
    return common.Gunicorn(extra_env=env), run


def install_lighthouse() -> None:
    if LIGHTHOUSE.exists():
        return
    print(f"installing lighthouse@{LIGHTHOUSE_VERSION} into {LIGHTHOUSE_DIR}", flush=True)
    LIGHTHOUSE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(LIGHTHOUSE_DIR),
            f"lighthouse@{LIGHTHOUSE_VERSION}",
        ],
        check=True,
    )


def axe_violations(browser, url: str, size: tuple[int, int]) -> list[str]:
    """The ids of the axe rules the page breaks, once its charts have been drawn."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, bypass_csp=True)
    tab = context.new_page()
    try:
        tab.goto(url, wait_until="networkidle")
        tab.wait_for_timeout(300)  # the charts draw after the data arrive
        tab.add_script_tag(path=str(AXE))
        return tab.evaluate("async () => (await axe.run(document)).violations.map((v) => v.id)")
    finally:
        context.close()


def lighthouse_scores(url: str, folder: Path, attempts: int = 3) -> dict[str, int]:
    """The four scores, in whole points. Lighthouse now and then fails to record a trace
    (NO_NAVSTART) on a busy machine: such a run is tried again, up to `attempts` times."""
    report = folder / "lighthouse.json"
    for attempt in range(1, attempts + 1):
        result = subprocess.run(
            [
                str(LIGHTHOUSE),
                url,
                "--quiet",
                "--output=json",
                f"--output-path={report}",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
                f"--only-categories={','.join(CATEGORIES)}",
            ],
            env={**os.environ, "CHROME_PATH": CHROMIUM},
        )
        if result.returncode == 0:
            break
        if attempt == attempts:
            raise SystemExit(f"Lighthouse failed {attempts} times on {url}")
    categories = json.loads(report.read_text())["categories"]
    return {name: round(categories[name]["score"] * 100) for name in CATEGORIES}


def missed(scores: dict[str, int], held: bool, violations: list[list[str]]) -> list[str]:
    problems = [
        f"axe at {w[0]} px: {', '.join(v)}" for w, v in zip(WIDTHS, violations, strict=True) if v
    ]
    if held:
        problems += [
            f"Lighthouse {name} {scores[name]} < {TARGETS[name]}"
            for name in CATEGORIES
            if scores[name] < TARGETS[name]
        ]
    return problems


def main() -> int:
    from playwright.sync_api import sync_playwright

    install_lighthouse()
    problems = []
    with tempfile.TemporaryDirectory() as folder:
        server, run = serve_site(Path(folder))
        with server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            header = ["page", "axe 1366px", "axe 390px", *CATEGORIES]
            print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header), flush=True)
            for name, (path, held) in PAGES.items():
                url = server.url + path.format(run=run)
                violations = [axe_violations(browser, url, size) for size in WIDTHS]
                scores = lighthouse_scores(url, Path(folder))
                marks = [f"{scores[c]}{'' if held else ' (info)'}" for c in CATEGORIES]
                print(
                    f"| {name} | {len(violations[0])} | {len(violations[1])} | "
                    + " | ".join(marks)
                    + " |",
                    flush=True,
                )
                problems += [f"{name}: {problem}" for problem in missed(scores, held, violations)]
            browser.close()
    for problem in problems:
        print(f"MISSED {problem}")
    print("all targets met" if not problems else f"{len(problems)} targets missed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
