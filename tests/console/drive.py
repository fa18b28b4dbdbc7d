"""Drives dbosd's web console in headless Chromium (Debian's /usr/bin/chromium, through
Playwright's Python package; no browser is downloaded) as a person would, and prints what it saw
as one JSON object on stdout. Run by tests/it/console/browser.rs, which checks the JSON against
the database.

Flow: enter the token -> workflow list -> `/` search by id prefix, Enter opens the selected row ->
the workflow's steps, output, events, messages, stream keys (one read by a click) -> cancel a
waiting workflow through the confirmation -> a bulk action's dry-run count -> queues, schedules,
versions -> the database picker to a second database (and its URL opened as shared) -> the same
pages with a narrower token (what it may not see, PERMISSION_DENIED shown as such). Screenshots of
each view go to --shots.
"""

import argparse
import json
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

# The flags this machine's Chromium needs headless (no sandbox as root, no network beyond loopback).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN_KEY = "dbosd.console.token"
TIMEOUT_MS = 20_000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="dbosd's HTTP address, e.g. http://127.0.0.1:50051")
    ap.add_argument("--token", default="")
    ap.add_argument("--narrow-token", default="")
    ap.add_argument("--done", required=True, help="a finished workflow with steps, children and events")
    ap.add_argument("--parked", required=True, help="an ENQUEUED workflow to cancel")
    ap.add_argument("--live-id", default="", help="a workflow id to enqueue while the list is open")
    ap.add_argument("--schedule", default="", help="a schedule to pause and trigger")
    ap.add_argument("--second-db", default="", help="a second database of the fleet, to pick")
    ap.add_argument("--second-id", default="", help="the one workflow of the second database")
    ap.add_argument("--shots", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    shots = Path(args.shots)
    shots.mkdir(parents=True, exist_ok=True)
    ui = f"{args.base}/ui/"
    result: dict = {"console_errors": []}

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="light")
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.on("pageerror", lambda e: result["console_errors"].append(str(e)))
        # Script errors; not the browser's own line for each HTTP error answer (401 before the token).
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                and result["console_errors"].append(m.text))

        try:
            flow(page, browser, args, ui, shots, result)
        except Exception:
            # What the page showed when a step failed, for whoever reads the test's output.
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            print(f"console errors: {result['console_errors']}\nat {page.url}", file=sys.stderr)
            raise
        browser.close()
    json.dump(result, sys.stdout)


def enqueue(args, workflow_id: str) -> None:
    """Enqueues echo as workflow_id on a queue no worker polls, over Connect as any client would."""
    body = json.dumps({"workflowName": "echo", "queueName": "console_parked",
                       "workflowId": workflow_id, "positionalArgs": [1]}).encode()
    request = urllib.request.Request(f"{args.base}/dbosd.v1.WorkflowService/EnqueueWorkflow", data=body,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {args.token}"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_MS / 1000) as response:
        response.read()


def flow(page, browser, args, ui: str, shots: Path, result: dict) -> None:
    # Without a token the first call is UNAUTHENTICATED and the console asks for one.
    page.goto(ui)
    if args.token:
        page.wait_for_selector("#token-dialog[open]")
        result["asked_for_token"] = True
        page.fill("#token-input", args.token)
        page.press("#token-input", "Enter")

    # The list, with counts by status.
    page.wait_for_selector(f'tbody tr[data-id="{args.done}"]')
    page.wait_for_selector(".chip .count")
    result["list_ids"] = page.eval_on_selector_all("tbody tr[data-id]", "rs => rs.map(r => r.dataset.id)")
    result["chips"] = page.eval_on_selector_all(
        ".chip", "cs => Object.fromEntries(cs.map(c => [c.dataset.status, c.querySelector('.count')?.textContent]))")
    page.wait_for_selector("#live:not([hidden])")
    result["live"] = True
    page.screenshot(path=str(shots / "1-workflows.png"))

    # Live: a workflow enqueued elsewhere while the list is open is announced by WatchWorkflows.
    if args.live_id:
        enqueue(args, args.live_id)
        page.wait_for_selector(".banner:not([hidden])")
        result["live_banner"] = page.text_content(".banner")

    # Keyboard: `/` focuses the search, Enter filters (into the URL), Esc leaves the box, Enter opens.
    page.keyboard.press("/")
    result["search_focused"] = page.evaluate("document.activeElement?.id") == "search"
    prefix = args.done[: max(3, len(args.done) - 2)]
    page.keyboard.type(prefix)
    page.keyboard.press("Enter")
    page.wait_for_function("p => location.hash.includes('prefix=' + encodeURIComponent(p))", arg=prefix)
    page.wait_for_function(
        "p => { const rs = [...document.querySelectorAll('tbody tr[data-id]')];"
        " return rs.length > 0 && rs.every(r => r.dataset.id.startsWith(p)); }",
        arg=prefix)
    page.wait_for_selector("tbody tr.selected")
    result["search_url"] = page.url
    page.keyboard.press("Escape")
    # j moves the selection down to the workflow (its children share the prefix), Enter opens it.
    for _ in range(20):
        if page.eval_on_selector("tbody tr.selected", "r => r.dataset.id") == args.done:
            break
        page.keyboard.press("j")
    result["selected"] = page.eval_on_selector("tbody tr.selected", "r => r.dataset.id")
    page.keyboard.press("Enter")
    page.wait_for_selector(".timeline .step")
    result["detail_url"] = page.url
    page.wait_for_selector(".events dt")
    page.wait_for_selector(".links li")  # children found through parentWorkflowIds
    result["detail_status"] = page.text_content(".detail-head .badge")
    result["steps"] = page.eval_on_selector_all(".timeline .step", """ss => ss.map(s => ({
        id: s.dataset.step, name: s.querySelector('.step-name').textContent,
        duration: s.querySelector('.step-duration').textContent,
        child: s.querySelector('.step-child a')?.textContent || null }))""")
    result["output"] = page.eval_on_selector_all(
        ".panel", "ps => ps.find(p => p.querySelector('h3').textContent === 'Output')?.querySelector('pre')?.textContent")
    result["input"] = page.eval_on_selector_all(
        ".panel", "ps => ps.find(p => p.querySelector('h3').textContent === 'Input')?.querySelector('pre')?.textContent")
    result["events"] = page.eval_on_selector_all(".events dt", "ds => ds.map(d => d.textContent)")
    result["children"] = page.eval_on_selector_all(".links li a", "as => as.map(a => a.textContent)")
    # The messages sent to it (received or pending) and its streams by key; a click reads one.
    page.wait_for_selector(".messages tbody tr[data-message-id]")
    result["messages"] = page.eval_on_selector_all(".messages tbody tr[data-message-id]", """rs => rs.map(r => ({
        topic: r.children[1].textContent, consumed: r.dataset.consumed === 'true',
        message: r.querySelector('.msg-cell').textContent, state: r.querySelector('.msg-state').textContent }))""")
    page.wait_for_selector(".stream-keys button.stream-key")
    result["stream_keys"] = page.eval_on_selector_all(".stream-keys button.stream-key", """bs => bs.map(b => ({
        key: b.dataset.key, count: b.querySelector('.count').textContent,
        state: b.querySelector('.badge').textContent }))""")
    page.click(".stream-keys button.stream-key")
    page.wait_for_selector(".stream-values li pre")
    result["stream_values"] = page.eval_on_selector_all(".stream-values li pre", "ps => ps.map(p => p.textContent)")
    page.click(".timeline .step .step-head")
    page.wait_for_selector(".step-detail:not([hidden])")
    # From the top: a full-page shot of a scrolled page draws the sticky bar mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "2-workflow.png"), full_page=True)

    # A child opens from its step; then the parent is linked back.
    child = page.eval_on_selector(".step-child a", "a => a.textContent")
    page.click(".step-child a")
    page.wait_for_function("c => location.hash.endsWith(encodeURIComponent(c))", arg=child)
    page.wait_for_selector(".facts dd a")
    result["child_parent_link"] = page.eval_on_selector_all(".facts dd a", "as => as.map(a => a.textContent)")

    # Cancel the waiting workflow, through its confirmation.
    page.goto(f"{ui}#/workflow/{args.parked}")
    page.wait_for_selector('button[data-action="cancel"]:not([disabled])')
    result["parked_before"] = page.text_content(".detail-head .badge")
    page.click('button[data-action="cancel"]')
    page.wait_for_selector("#confirm-dialog[open]")
    page.screenshot(path=str(shots / "3-cancel-confirm.png"))
    page.click("#confirm-yes")
    page.wait_for_function("() => document.querySelector('.detail-head .badge')?.textContent === 'CANCELLED'")
    result["parked_after"] = page.text_content(".detail-head .badge")

    # A bulk action by filter shows its dry-run count first; dismissed here. (The filter panel is
    # open: its URL says so.)
    page.goto(f"{ui}#/workflows?status=SUCCESS&filters=open")
    page.wait_for_selector("tbody tr[data-id]")
    page.wait_for_selector(".filter-form")
    page.screenshot(path=str(shots / "1b-filters.png"))
    page.click('button[data-bulk="delete"]')
    page.wait_for_selector("#confirm-dialog[open] .dry-run strong")
    result["bulk_dry_run"] = page.text_content(".dry-run")
    page.screenshot(path=str(shots / "4-bulk-dry-run.png"))
    page.click("#confirm-no")

    # A schedule: pause it, then trigger it through its confirmation.
    if args.schedule:
        page.goto(f"{ui}#/schedules")
        row = f'tr[data-schedule="{args.schedule}"]'
        page.wait_for_selector(row)
        page.click(f"{row} button:text('Pause')")
        page.wait_for_selector(f"{row} .badge:text('PAUSED')")
        page.click(f"{row} button:text('Trigger')")
        page.wait_for_selector("#confirm-dialog[open]")
        page.click("#confirm-yes")
        page.wait_for_selector(".toast:has-text('Trigger: enqueued')")
        result["trigger_toast"] = page.text_content(".toast:has-text('Trigger: enqueued')")

    # Fork the finished workflow from its first `echo` step (after the counts above: the fork's
    # own children would change them).
    page.goto(f"{ui}#/workflow/{args.done}")
    page.wait_for_selector('button[data-action="fork"]')
    page.click('button[data-action="fork"]')
    page.wait_for_selector("#confirm-dialog[open] select")
    step = page.eval_on_selector_all(".timeline .step", "ss => ss.find(s => s.querySelector('.step-name').textContent === 'echo').dataset.step")
    page.select_option("#confirm-dialog select", step)
    page.click("#confirm-yes")
    page.wait_for_function("d => location.hash.startsWith('#/workflow/') && !location.hash.endsWith('/' + encodeURIComponent(d))",
                           arg=args.done)
    result["fork"] = {"id": urllib.parse.unquote(page.url.split("#/workflow/", 1)[1]), "step": step}

    # Registry views.
    for name, selector in [("queues", "tbody tr[data-queue]"), ("schedules", "tbody tr"), ("versions", "tbody tr")]:
        page.goto(f"{ui}#/{name}")
        page.wait_for_selector(selector)
        page.screenshot(path=str(shots / f"5-{name}.png"))
    page.goto(f"{ui}#/queues")
    page.wait_for_selector("tbody tr[data-queue]")
    result["queues"] = page.eval_on_selector_all("tbody tr[data-queue]", """rs => Object.fromEntries(rs.map(r =>
        [r.dataset.queue, [...r.querySelectorAll('td')].slice(1, 5).map(td => td.textContent)]))""")

    # The database picker: the second database's list, its name in the URL, and that URL opened
    # again (as a shared link would be) on one of its workflows.
    if args.second_db:
        page.goto(f"{ui}#/workflows")
        page.wait_for_selector("#db-select")
        result["db_options"] = page.eval_on_selector_all("#db-select option", "os => os.map(o => o.value)")
        result["db_selected_before"] = page.eval_on_selector("#db-select", "s => s.value")
        page.select_option("#db-select", args.second_db)
        page.wait_for_function("d => new URLSearchParams(location.search).get('db') === d", arg=args.second_db)
        page.wait_for_selector(f'tbody tr[data-id="{args.second_id}"]')
        page.wait_for_selector("#db-select")
        result["second_url"] = page.url
        result["second_list_ids"] = page.eval_on_selector_all("tbody tr[data-id]", "rs => rs.map(r => r.dataset.id)")
        result["db_selected_after"] = page.eval_on_selector("#db-select", "s => s.value")
        page.screenshot(path=str(shots / "8-database-picker.png"))
        page.goto(f"{args.base}/ui/?db={urllib.parse.quote(args.second_db)}#/workflow/{args.second_id}")
        page.wait_for_selector(".detail-head .badge")
        result["second_detail_status"] = page.text_content(".detail-head .badge")

    # Dark mode follows the OS.
    dark = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="dark")
    dark.add_init_script(f"sessionStorage.setItem({json.dumps(TOKEN_KEY)}, {json.dumps(args.token)})")
    dpage = dark.new_page()
    dpage.set_default_timeout(TIMEOUT_MS)
    dpage.goto(f"{ui}#/workflow/{args.done}")
    dpage.wait_for_selector(".timeline .step")
    dpage.screenshot(path=str(shots / "6-workflow-dark.png"), full_page=True)
    dark.close()

    # A narrower token sees less, and a call it may not make reads PERMISSION_DENIED.
    if args.narrow_token:
        page.evaluate("([k, t]) => sessionStorage.setItem(k, t)", [TOKEN_KEY, args.narrow_token])
        page.goto(f"{ui}#/workflows")
        page.reload()
        page.wait_for_selector("tbody td.empty, tbody tr[data-id]")
        result["narrow_list_ids"] = page.eval_on_selector_all(
            "tbody tr[data-id]", "rs => rs.map(r => r.dataset.id)")
        # It may use the default database only: no picker.
        page.wait_for_selector("#db-slot[data-databases]", state="attached")
        result["narrow_databases"] = page.eval_on_selector("#db-slot", "s => s.dataset.databases")
        result["narrow_picker"] = page.query_selector("#db-select") is not None
        page.goto(f"{ui}#/queues")
        page.wait_for_selector(".error-box")
        result["narrow_queues_error"] = page.text_content(".error-box")
        page.screenshot(path=str(shots / "7-permission-denied.png"))


if __name__ == "__main__":
    main()
