"""Click through the app in Chromium like a user, time the slow paths, save screenshots.

Timings (printed, and bounded loosely so a slow CI machine does not flake; the targets are
1 s for a 30-iteration run, 5 s for a 3 x 5 x 30 ablation and 5 s for a 5,000-variant Archive):
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

RUN_BOUND_S = 5.0
ABLATION_BOUND_S = 15.0
ARCHIVE_BOUND_S = 15.0
IDLE_TIMEOUT_MS = 60_000  # waits for a page to finish drawing (generous: CI can be slow)
# The app root carries the script-run state ("running", "notRunning", ...). The running
# indicator (stStatusWidget) alone is not enough: Streamlit shows it only after a run has
# lasted 500 ms, so a run younger than that looks idle.
NOT_RUNNING = "[data-testid='stApp'][data-test-script-state='notRunning']"

# Finds the vis-network instance that streamlit-agraph keeps in React state (it does not put
# it on window), and returns the node's position in CSS pixels relative to the canvas.
NODE_POSITION_JS = """
(nodeId) => {
  const canvas = document.querySelector('.vis-network canvas');
  if (!canvas) return null;
  let el = canvas.closest('.vis-network').parentElement;
  const key = Object.keys(el).find(k => k.startsWith('__reactInternalInstance')
                                        || k.startsWith('__reactFiber'));
  let fiber = key ? el[key] : null;
  while (fiber) {
    let hook = fiber.memoizedState;
    while (hook && typeof hook === 'object' && 'next' in hook) {
      const net = hook.memoizedState;
      if (net && typeof net.getPositions === 'function') {
        const pos = net.getPositions([nodeId])[nodeId];
        if (!pos) return null;
        const dom = net.canvasToDOM(pos);
        const box = canvas.getBoundingClientRect();
        const root = canvas.closest('.vis-network').getBoundingClientRect();
        return {x: dom.x + root.left - box.left, y: dom.y + root.top - box.top};
      }
      hook = hook.next;
    }
    fiber = fiber.return;
  }
  return null;
}
"""


def report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[e2e timing] {text}")


def idle(page) -> None:
    """Wait until the script run finished: the app reports "notRunning" and Streamlit's
    running indicator is gone. Call it after something the new run drew is visible (a run
    that has not started yet also reports "notRunning")."""
    page.locator(NOT_RUNNING).wait_for(state="attached", timeout=IDLE_TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=IDLE_TIMEOUT_MS)


def go(page, title: str) -> None:
    """Open a page from the sidebar menu (client-side: the session is kept)."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=IDLE_TIMEOUT_MS)
    idle(page)


def shoot(page, screenshots, name: str, height: int = 1500) -> None:
    """Save ``<name>.png`` of a tall window in the ``screenshots`` folder (a temporary one
    unless ``HYPERAGENTS_SCREENSHOTS`` names one, e.g. ``docs/screenshots`` for the README)."""
    page.mouse.move(1, 1)  # no hover tooltips in the picture
    page.set_viewport_size({"width": 1400, "height": height})
    page.wait_for_timeout(600)  # let the layout and charts settle
    page.screenshot(path=str(screenshots / f"{name}.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    assert (screenshots / f"{name}.png").stat().st_size > 10_000


def graph_frame(page):
    handle = page.wait_for_selector("iframe[title='streamlit_agraph.agraph']")
    frame = handle.content_frame()
    frame.wait_for_selector(".vis-network canvas")
    return handle, frame


def test_first_request_is_a_deep_link_to_a_missing_run(server, page):
    """A fresh server's first request, a link to a missing run, still gets the whole app
    (sidebar, menu of seven pages) and an error naming the run. Runs first on purpose."""
    url, _ = server
    page.goto(f"{url}/agent?run=deadbeef&agent=3")
    page.get_by_text("Run 'deadbeef' does not exist").wait_for()
    page.get_by_role("heading", name="Agent Detail", exact=True).wait_for()
    nav = page.locator("[data-testid='stSidebarNav'] a")
    assert nav.count() == 7
    labels = [t.split("\n")[-1] for t in nav.all_inner_texts()]  # icon name, then label
    assert labels == ["Overview", "Ablation", "Archive", "Agent Detail", "Events", "Runs",
                      "Live Review"]
    page.get_by_text("OpenAI").first.wait_for()


def test_click_through_every_page(server, page, screenshots, capsys):
    """A user can run, open the lineage graph, click a node, ablate, list runs and review."""
    url, _ = server
    page.goto(url)
    page.get_by_role("heading", name="Overview", exact=True).wait_for()
    idle(page)
    page.get_by_text("No run yet").first.wait_for()
    page.wait_for_selector("[data-testid='stVegaLiteChart'] canvas, "
                           "[data-testid='stVegaLiteChart'] svg")  # the dataset profile
    idle(page)

    t0 = time.perf_counter()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text(re.compile(r"^Best agent #\d+$")).wait_for()
    page.get_by_text("Learning curve of run").wait_for()
    run_s = time.perf_counter() - t0
    report(capsys, f"30-iteration Run click -> result shown: {run_s:.2f} s (target < 1 s)")
    assert run_s < RUN_BOUND_S
    idle(page)
    best = int(re.search(r"#(\d+)", page.get_by_text(re.compile(r"^Best agent #")).inner_text())
               .group(1))
    run_id = re.search(r"run=(\w+)", page.url).group(1)
    page.get_by_text("30 iterations", exact=False).first.wait_for()
    page.locator("[data-testid='stSidebar']").get_by_text(run_id).wait_for()
    shoot(page, screenshots, "overview")

    go(page, "Archive")
    handle, frame = graph_frame(page)
    page.get_by_text(re.compile(r"agents drawn")).wait_for()
    shoot(page, screenshots, "archive")
    target = best if best != 0 else 1
    pos = frame.evaluate(NODE_POSITION_JS, str(target))
    assert pos is not None, "node not found in the vis-network graph"
    frame.locator(".vis-network canvas").click(position=pos)
    page.get_by_role("heading", name="Agent Detail", exact=True).wait_for()
    page.get_by_text(re.compile(rf"^Agent #{target}( |$)")).wait_for()
    idle(page)
    assert f"agent={target}" in page.url
    page.get_by_text("Diff against its parent").wait_for()
    shoot(page, screenshots, "agent_detail")

    # Back on the Archive the old click must not open the agent again.
    go(page, "Archive")
    graph_frame(page)
    page.wait_for_timeout(1500)
    assert page.get_by_role("heading", name="Archive", exact=True).is_visible()
    assert "/archive" in page.url

    go(page, "Ablation")
    t0 = time.perf_counter()
    page.get_by_role("button", name="Run ablation").click()
    page.get_by_text("Final iteration").wait_for(timeout=60_000)
    idle(page)
    ablation_s = time.perf_counter() - t0
    report(capsys, f"3 x 5 x 30 ablation from the page: {ablation_s:.2f} s (target < 5 s)")
    assert ablation_s < ABLATION_BOUND_S
    page.get_by_text("final train accuracy, hyperagent vs baseline").first.wait_for()
    page.get_by_text("Final iteration").scroll_into_view_if_needed()
    shoot(page, screenshots, "ablation")

    go(page, "Runs")
    page.get_by_text(f"{run_id} · hyperagent · seed 0").first.wait_for()
    page.get_by_text("Saved ablations").wait_for()
    page.get_by_text("Compare runs").wait_for()
    shoot(page, screenshots, "runs")

    go(page, "Live Review")
    # The page draws its form, then "Recent reviews" last: once that heading is there and the
    # run is over, the whole form is on the page (not a half-drawn page or the Runs page).
    name = page.get_by_label("Repository name", exact=True)
    try:
        page.get_by_role("heading", name="Recent reviews", exact=True).wait_for(
            timeout=IDLE_TIMEOUT_MS)
        idle(page)
        name.wait_for(timeout=IDLE_TIMEOUT_MS)
    except Exception:
        raise AssertionError("Live Review did not show its form; page text:\n"
                             + page.inner_text("body")[:3000]) from None
    name.fill("demo-repo")
    name.press("Enter")
    idle(page)
    page.get_by_role("button", name="Save review").click()
    page.get_by_text(re.compile(r"Review #1 saved: demo-repo")).wait_for()
    idle(page)
    shoot(page, screenshots, "live_review")

    go(page, "Events")
    page.get_by_text(re.compile(r"of 30 events shown")).wait_for()
    shoot(page, screenshots, "events")


def archive_drawn(page) -> None:
    """Wait for everything the Archive page draws for the 5,000-variant run."""
    graph_frame(page)
    page.wait_for_selector("[data-testid='stVegaLiteChart'] canvas, "
                           "[data-testid='stVegaLiteChart'] svg")
    page.get_by_text(re.compile(r"of 5001 variants")).wait_for()
    page.get_by_text(re.compile(r"of 5001 agents drawn")).wait_for()


def test_archive_of_5000_variants_draws_fast(server, browser, page, capsys):
    """The Archive page of a 5,000-variant run draws its graph, overview and table quickly,
    both from the menu and from a link opened in a new browser."""
    url, big = server
    page.goto(f"{url}/runs?run={big}")
    page.get_by_text("Compare runs").wait_for()
    idle(page)
    t0 = time.perf_counter()
    page.locator("[data-testid='stSidebarNav'] a", has_text="Archive").first.click()
    archive_drawn(page)
    menu_s = time.perf_counter() - t0
    report(capsys, f"Archive of a 5,000-variant run, opened from the menu: {menu_s:.2f} s "
                   "(target < 5 s)")
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    t0 = time.perf_counter()
    fresh.goto(f"{url}/archive?run={big}")
    archive_drawn(fresh)
    link_s = time.perf_counter() - t0
    fresh.context.close()
    report(capsys, f"Archive of a 5,000-variant run, link in a new browser (cold page load): "
                   f"{link_s:.2f} s (target < 5 s)")
    assert menu_s < ARCHIVE_BOUND_S and link_s < ARCHIVE_BOUND_S
