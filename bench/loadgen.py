"""Load generation for bench/web_booking.py: residents who book through the web pages as a
browser would, partner systems that book over the API, and `/health/` callers, run from
several processes of threads so that the client is not held back by one interpreter's GIL.

Nothing here imports Django: the pages are read as HTML (stdlib html.parser), the way a
browser sees them, so the flow keeps working while the templates change underneath it as long
as the forms keep their field names (option, site, date, slot, action, ticket_number...).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import queue
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests

TIMEOUT = (5.0, 60.0)  # connect, read: a slow answer is measured, not cut short
START_TIMEOUT_S = 120.0
MAX_HOLD_ATTEMPTS = 3  # a resident whose chosen time went meanwhile picks again
MAX_QUEUE_PAGES = 2000  # waiting-room refreshes before a resident gives up


# --- Reading pages ------------------------------------------------------------------------------


@dataclass
class Form:
    method: str
    action: str
    # (name, value, type, disabled, checked): every control in document order
    controls: list[tuple[str, str, str, bool, bool]] = field(default_factory=list)
    selects: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # value, selected

    def names(self) -> set[str]:
        return {c[0] for c in self.controls} | set(self.selects)

    def values(self, *, buttons: bool = False) -> dict[str, str]:
        """What a browser submits without the user touching anything (no buttons)."""
        data: dict[str, str] = {}
        for name, value, kind, disabled, checked in self.controls:
            if not name or disabled:
                continue
            if kind in ("submit", "button", "image"):
                continue
            if kind in ("radio", "checkbox"):
                if checked:
                    data[name] = value
                continue
            data[name] = value
        for name, options in self.selects.items():
            chosen = [v for v, selected in options if selected]
            if chosen:
                data[name] = chosen[0]
            elif options:
                data[name] = options[0][0]
        return data

    def choices(self, name: str) -> list[str]:
        """The values a user may pick for a radio group or a select (enabled, non-empty)."""
        if name in self.selects:
            return [v for v, _selected in self.selects[name] if v]
        return [
            value
            for n, value, kind, disabled, _checked in self.controls
            if n == name and kind == "radio" and not disabled and value
        ]


class Page(HTMLParser):
    """Forms, links and machine-readable attributes of one HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.meta: dict[str, str] = {}
        self.data_attributes: dict[str, str] = {}
        self._form: Form | None = None
        self._select: str | None = None
        self._option: list[Any] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for name, value in a.items():
            if name.startswith("data-") and name not in self.data_attributes:
                self.data_attributes[name] = value
        if tag == "meta":
            key = a.get("name") or a.get("http-equiv", "").lower()
            if key:
                self.meta[key] = a.get("content", "")
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "form":
            self._form = Form(method=a.get("method", "get").lower(), action=a.get("action", ""))
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag in ("input", "button"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            self._form.controls.append(
                (a.get("name", ""), a.get("value", ""), kind, "disabled" in a, "checked" in a)
            )
        elif tag == "select":
            self._select = a.get("name", "")
            self._form.selects.setdefault(self._select, [])
        elif tag == "option" and self._select is not None:
            self._finish_option()
            # [value or None (then the option's text is its value), selected, text]
            self._option = [a.get("value"), "selected" in a, ""]

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option[2] += data

    def _finish_option(self) -> None:
        if self._option is None or self._form is None or self._select is None:
            return
        value, selected, text = self._option
        self._form.selects[self._select].append(
            (value if value is not None else text.strip(), bool(selected))
        )
        self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "option":
            self._finish_option()
        elif tag == "select":
            self._finish_option()
            self._select = None
        elif tag == "form":
            self._form = None

    def form_with(self, *names: str, method: str | None = None) -> Form | None:
        for form in self.forms:
            if set(names) <= form.names() and (method is None or form.method == method):
                return form
        return None


# --- The waiting room, seen from the browser ------------------------------------------------------


def queue_marks(page: Page) -> tuple[int | None, float | None, float | None] | None:
    """(position, estimate seconds, refresh seconds) when the page is a waiting-room page, else
    None. The waiting room marks its page with data-position / data-estimate-seconds."""
    position = page.data_attributes.get("data-position")
    estimate = page.data_attributes.get("data-estimate-seconds")
    if position is None and estimate is None:
        return None
    refresh = None
    match = re.match(r"\s*(\d+(?:\.\d+)?)", page.meta.get("refresh", ""))
    if match:
        refresh = float(match.group(1))
    return (
        int(float(position)) if position else None,
        float(estimate) if estimate else None,
        refresh,
    )


def refresh_url(page: Page, current: str) -> str:
    """Where a <meta http-equiv="refresh" content="5; url=..."> sends the browser."""
    match = re.search(r"url\s*=\s*['\"]?([^'\"]+)", page.meta.get("refresh", ""), re.I)
    return urljoin(current, match.group(1)) if match else current


# --- Records --------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """What one thread saw: every request (page, start, seconds, status, error) and every
    booking (finish time), plus waiting-room observations."""

    requests: list[tuple[str, float, float, int, str]] = field(default_factory=list)
    bookings: list[float] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    queued: list[dict[str, Any]] = field(default_factory=list)
    flows: list[tuple[float, float]] = field(default_factory=list)  # start, seconds
    out_of_residents: bool = False

    def reject(self, code: str) -> None:
        self.rejections[code] = self.rejections.get(code, 0) + 1


class FlowError(Exception):
    """The page was not what a browser would expect (or the server failed); the flow stops."""


class Browser:
    """One resident's browser: keep-alive connection, cookies, and timing of every request."""

    def __init__(self, base: str, recorder: Recorder) -> None:
        self.base = base
        self.session = requests.Session()
        self.recorder = recorder

    def request(
        self,
        page: str,
        method: str,
        url: str,
        *,
        expect: tuple[int, ...],
        data: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        url = urljoin(self.base, url)
        began = time.monotonic()
        try:
            response = self.session.request(
                method, url, data=data, allow_redirects=False, timeout=TIMEOUT, **kwargs
            )
        except requests.RequestException as exc:
            elapsed = time.monotonic() - began
            self.recorder.requests.append((page, began, elapsed, 0, type(exc).__name__))
            raise FlowError(f"{page}: {type(exc).__name__}") from None
        elapsed = time.monotonic() - began
        error = "" if response.status_code in expect else f"status {response.status_code}"
        if error and response.headers.get("Content-Type", "").startswith("application/json"):
            with contextlib.suppress(ValueError):  # the API's stable error code
                error += f" {response.json().get('code', '')}"
        self.recorder.requests.append((page, began, elapsed, response.status_code, error))
        if error:
            raise FlowError(f"{page}: {error}")
        return response

    def get(self, page: str, url: str, deadline: float) -> Page | None:
        """GET a page as a browser would, waiting in the waiting room if it answers with its
        queue page (refreshing as the page says). None if the wait outlasts `deadline`."""
        arrived = time.monotonic()
        first: tuple[int | None, float | None, float | None] | None = None
        current = urljoin(self.base, url)
        for _refresh in range(MAX_QUEUE_PAGES):
            response = self.request(page, "GET", current, expect=(200, 302) if first else (200,))
            if response.status_code == 302:  # admitted, sent on to the page asked for
                current = urljoin(current, response.headers.get("Location", url))
                continue
            parsed = Page(response.text)
            marks = queue_marks(parsed)
            if marks is None:
                if first is not None:
                    self.recorder.queued.append(
                        {
                            "position": first[0],
                            "estimate": first[1],
                            "waited": time.monotonic() - arrived,
                        }
                    )
                return parsed
            # A queue page: counted as such, not as the page the resident asked for.
            self.recorder.requests[-1] = ("queue", *self.recorder.requests[-1][1:])
            if first is None:
                first = marks
            if time.monotonic() > deadline:
                self.recorder.queued.append(
                    {"position": first[0], "estimate": first[1], "waited": None}
                )
                return None
            time.sleep(marks[2] if marks[2] is not None else 5.0)
            current = refresh_url(parsed, current)
        raise FlowError(f"{page}: still queued after {MAX_QUEUE_PAGES} refreshes")


def _location(response: requests.Response, pattern: str, page: str) -> str:
    location = response.headers.get("Location", "")
    if not re.search(pattern, urlsplit(location).path):
        raise FlowError(f"{page}: redirected to {location!r}")
    return location


# --- The resident web flow ------------------------------------------------------------------------


def web_flow(
    browser: Browser,
    rng: random.Random,
    ticket: str,
    birth: str,
    municipality: str,
    deadline: float,
) -> bool:
    """Sign in, choose, hold, confirm and look at the booking, as a browser. True if booked."""
    browser.session.cookies.clear()  # a new resident: a new browser (the connection is kept)
    home = browser.get("front", "/", deadline)
    if home is None:
        return False
    form = home.form_with("ticket_number", "csrfmiddlewaretoken", method="post")
    if form is None:
        raise FlowError("front: no sign-in form")
    year, month, day = birth.split("-")
    data = form.values() | {
        "municipality": municipality,
        "ticket_number": ticket,
        "birth_era": "western",
        "birth_year": year,
        "birth_month": str(int(month)),
        "birth_day": str(int(day)),
        "booking_for": "resident",
    }
    signed_in = browser.request("sign_in", "POST", form.action or "/", data=data, expect=(302,))
    person_url = _location(signed_in, r"^/p/[^/]+/$", "sign_in")
    person = browser.get("person", person_url, deadline)
    if person is None:
        return False
    book_url = next((link for link in person.links if re.search(r"/book/$", link)), None)
    if book_url is None:
        raise FlowError("person: no link to the booking page")
    page = browser.get("book", book_url, deadline)
    if page is None:
        return False
    for _attempt in range(MAX_HOLD_ATTEMPTS):
        page, hold_form = _choose(browser, rng, page, urljoin(browser.base, book_url), deadline)
        choices = hold_form.choices("slot")
        data = hold_form.values() | {"slot": rng.choice(choices)}
        held = browser.request(
            "hold", "POST", hold_form.action or book_url, data=data, expect=(302, 400)
        )
        if held.status_code == 302:
            confirm_url = _location(held, r"/r/[^/]+/confirm/$", "hold")
            break
        browser.recorder.reject("hold refused (400)")
        page = Page(held.text)
    else:
        raise FlowError("hold: refused three times")
    confirm_page = browser.get("confirm_page", confirm_url, deadline)
    if confirm_page is None:
        return False
    form = confirm_page.form_with("action", "csrfmiddlewaretoken", method="post")
    if form is None:
        raise FlowError("confirm_page: no confirm form (hold expired?)")
    confirmed = browser.request(
        "confirm",
        "POST",
        form.action or confirm_url,
        data=form.values() | {"action": "confirm"},
        expect=(302,),
    )
    detail_url = _location(confirmed, r"/r/[^/]+/$", "confirm")
    browser.recorder.bookings.append(time.monotonic())
    browser.get("detail", detail_url, deadline)
    return True


def _choose(
    browser: Browser, rng: random.Random, page: Page, url: str, deadline: float
) -> tuple[Page, Form]:
    """Narrow vaccine, site and day as a person clicking the page would, until it offers times.
    Works on whichever of these the page shows: a POST form with `slot` radios, links with
    `date=`/`site=` in their query, or a GET form whose selects still need a choice."""
    for _step in range(6):
        hold = page.form_with("slot", method="post")
        if hold is not None and hold.choices("slot"):
            return page, hold
        day_links = [link for link in page.links if "date=" in link]
        site_links = [link for link in page.links if "site=" in link and "date=" not in link]
        picker = page.form_with("option", method="get") or page.form_with("site", method="get")
        if day_links:
            target = urljoin(url, rng.choice(day_links).split("#")[0])
            name = "book_day"
        elif picker is not None and any(
            not picker.values().get(name) and picker.choices(name) for name in ("option", "site")
        ):
            data = picker.values()
            for name in ("option", "site"):
                if not data.get(name) and picker.choices(name):
                    data[name] = rng.choice(picker.choices(name))
            query = urlencode(data)
            target = urljoin(url, (picker.action or urlsplit(url).path) + "?" + query)
            name = "book_site"
        elif site_links:
            target = urljoin(url, rng.choice(site_links).split("#")[0])
            name = "book_site"
        else:
            raise FlowError("book: nothing left to choose and no time offered")
        url = target
        chosen = browser.get(name, target, deadline)
        if chosen is None:
            raise FlowError(f"{name}: still queued when the run ended")
        page = chosen
    raise FlowError("book: no time offered after six choices")


# --- The partner API ------------------------------------------------------------------------------


def api_booking(
    browser: Browser, rng: random.Random, ticket: str, birth: str, municipality: str, spec: Any
) -> bool:
    body = {
        "municipality_code": municipality,
        "ticket_number": ticket,
        "birth_date": birth,
        "slot": rng.choice(spec["slot_ids"]),
    }
    response = browser.request(
        "api_book",
        "POST",
        "/api/v1/reservations/",
        expect=(201, 409),
        json=body,
        headers={"Authorization": f"Token {spec['token']}", "Accept-Language": "ja"},
    )
    if response.status_code == 409:
        browser.recorder.reject(f"409 {response.json().get('code', '?')}")
        return False
    browser.recorder.bookings.append(time.monotonic())
    return True


# --- Processes and threads ------------------------------------------------------------------------


def _user(
    kind: str,
    index: int,
    base: str,
    spec: dict[str, Any],
    tickets: Callable[[], tuple[str, str] | None],
    window: dict[str, float],
    recorder: Recorder,
    arrive_at: float | None,
) -> None:
    """One simulated user. Without `arrive_at` it books again and again until the window
    closes; with it (spec 'once') it arrives at that moment and goes through the flow once."""
    rng = random.Random(index * 7919 + int(window["start"]))
    browser = Browser(base, recorder)
    municipality = spec.get("municipality", "")
    # How long a resident may stay in a waiting room after the window closes.
    deadline = window["stop"] + spec.get("queue_grace", 0.0)
    if arrive_at is not None:
        time.sleep(max(0.0, arrive_at - time.monotonic()))
    elif kind != "health":
        # Spread the users' first flows over the warm-up: started together, equal flows would
        # finish in lockstep and the window would count whole rounds of them.
        time.sleep(rng.uniform(0.0, max(0.0, window["start"] - window["begin"])))
    while arrive_at is not None or time.monotonic() < window["stop"]:
        if kind == "health":
            with contextlib.suppress(FlowError):  # counted by the recorder
                browser.request("health", "GET", "/health/", expect=(200,))
            continue
        resident = tickets()
        if resident is None:
            recorder.out_of_residents = True
            return
        began = time.monotonic()
        try:
            if kind == "web":
                booked = web_flow(browser, rng, *resident, municipality, deadline)
            else:
                booked = api_booking(browser, rng, *resident, municipality, spec)
        except FlowError:
            booked = False
        if booked and kind == "web":
            recorder.flows.append((began, time.monotonic() - began))
        if arrive_at is not None:
            return


def client_process(
    number: int,
    kind: str,
    base: str,
    users: int,
    spec: dict[str, Any],
    residents: list[tuple[str, str]],
    clock: Any,
    warmup: float,
    seconds: float,
    results: Any,
) -> None:
    """`users` threads of one kind in this process; puts its records on `results`. `clock`
    is (ready queue, go event, shared start time): every process reports ready once imported,
    and all start together when the parent says go, however long spawning took. With
    spec['once'], each thread is one resident arriving at spec['arrivals_per_second'] (over all
    processes; every arrival at once when 0) who books once."""
    lock = threading.Lock()
    pending = iter(residents)

    def next_resident() -> tuple[str, str] | None:
        with lock:
            return next(pending, None)

    ready, go, shared_start = clock
    ready.put(number)
    if not go.wait(START_TIMEOUT_S):
        return
    start_at = shared_start.value
    window = {"begin": start_at, "start": start_at + warmup, "stop": start_at + warmup + seconds}
    recorders = [Recorder() for _ in range(users)]
    rate = spec.get("arrivals_per_second", 0.0) / spec.get("processes", 1)
    arrivals: list[float | None] = [
        (window["start"] + (i / rate if rate else 0.0)) if spec.get("once") else None
        for i in range(users)
    ]
    threads = [
        threading.Thread(
            target=_user,
            args=(kind, number * 10000 + i, base, spec, next_resident, window, recorders[i]),
            kwargs={"arrive_at": arrivals[i]},
            daemon=True,
        )
        for i in range(users)
    ]
    time.sleep(max(0.0, start_at - time.monotonic()))
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, window["start"] - time.monotonic()))
    cpu_start = time.process_time()
    for thread in threads:  # until the window closes, or everyone is done if sooner
        thread.join(timeout=max(0.0, window["stop"] - time.monotonic()))
    cpu_window = time.process_time() - cpu_start
    for thread in threads:
        thread.join()
    merged = Recorder()
    for r in recorders:
        merged.requests.extend(r.requests)
        merged.bookings.extend(r.bookings)
        merged.queued.extend(r.queued)
        merged.flows.extend(r.flows)
        merged.out_of_residents |= r.out_of_residents
        for code, n in r.rejections.items():
            merged.rejections[code] = merged.rejections.get(code, 0) + n
    results.put(
        {
            "requests": merged.requests,
            "bookings": merged.bookings,
            "rejections": merged.rejections,
            "queued": merged.queued,
            "flows": merged.flows,
            "out_of_residents": merged.out_of_residents,
            "cpu_window": cpu_window,
            "used": len(residents) - sum(1 for _ in pending),
        }
    )


def drive(
    kind: str,
    base: str,
    *,
    users: int,
    processes: int,
    warmup: float,
    seconds: float,
    spec: dict[str, Any] | None = None,
    residents: list[tuple[str, str]] | None = None,
    during: Callable[[float, float], None] | None = None,
) -> dict[str, Any]:
    """Run `users` simulated users of `kind` ('web', 'api', 'health') split over `processes`
    processes: `warmup` seconds not counted, then `seconds` measured; users finish the flow they
    are in. `during(start, stop)` runs in this process meanwhile (e.g. to sample server CPU)."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    processes = max(1, min(processes, users))
    per_process = [
        users // processes + (1 if i < users % processes else 0) for i in range(processes)
    ]
    residents = residents or []
    # Residents split in proportion to each process's users (every resident used at most once).
    bounds = [len(residents) * sum(per_process[:n]) // users for n in range(processes + 1)]
    spec = {**(spec or {}), "processes": processes}
    ready, go, shared_start = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    procs = [
        ctx.Process(
            target=client_process,
            args=(
                n,
                kind,
                base,
                per_process[n],
                spec,
                residents[bounds[n] : bounds[n + 1]],
                (ready, go, shared_start),
                warmup,
                seconds,
                results,
            ),
            daemon=True,
        )
        for n in range(processes)
    ]
    for process in procs:
        process.start()
    for _process in procs:
        try:
            ready.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            for process in procs:
                process.terminate()
            raise SystemExit("load processes did not start") from None
    start_at = shared_start.value = time.monotonic() + 0.2
    go.set()
    window = (start_at + warmup, start_at + warmup + seconds)
    if during is not None:
        during(*window)
    outcomes: list[dict[str, Any]] = []
    give_up = (
        time.monotonic()
        + warmup
        + seconds
        + spec.get("queue_grace", 0.0)
        + START_TIMEOUT_S
        + 3 * TIMEOUT[1]
    )
    while len(outcomes) < len(procs):
        try:
            outcomes.append(results.get(timeout=1))
        except queue.Empty:
            failed = [p.pid for p in procs if p.exitcode not in (None, 0)]
            if failed or time.monotonic() > give_up:
                for process in procs:
                    if process.is_alive():
                        process.terminate()
                raise SystemExit(f"load process failed or hung: {failed or 'timed out'}") from None
    for process in procs:
        process.join(30)
    # Residents who arrive once are all counted, however long their wait made them.
    return summarise(outcomes, window, every_page=bool(spec.get("once")))


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(
    outcomes: list[dict[str, Any]], window: tuple[float, float], *, every_page: bool = False
) -> dict[str, Any]:
    """Per page: requests started in the window (or after it too: `every_page`), their p50/p99,
    5xx and other errors; bookings finished in the window; every booking (window or not) for
    the count against the database."""
    start, stop = window
    seconds = stop - start
    if every_page:
        stop = math.inf
    pages: dict[str, list[float]] = {}
    server_errors: dict[str, int] = {}
    other_errors: dict[str, int] = {}
    total_5xx = total_other = 0
    for outcome in outcomes:
        for page, began, elapsed, status, error in outcome["requests"]:
            # Errors: the whole run (warm-up and the flows finishing after it too).
            if status >= 500:
                total_5xx += 1
                server_errors[page] = server_errors.get(page, 0) + 1
            elif error:
                total_other += 1
                key = f"{page}: {error}"
                other_errors[key] = other_errors.get(key, 0) + 1
            if start <= began < stop:
                pages.setdefault(page, []).append(elapsed)
    all_bookings = [t for o in outcomes for t in o["bookings"]]
    in_window = sum(1 for t in all_bookings if start <= t < start + seconds)
    requests_in_window = sum(len(v) for v in pages.values())
    rejections: dict[str, int] = {}
    for outcome in outcomes:
        for code, n in outcome["rejections"].items():
            rejections[code] = rejections.get(code, 0) + n
    flows = sorted(s for o in outcomes for began, s in o["flows"] if start <= began < stop)
    return {
        "seconds": seconds,
        "bookings_window": in_window,
        "bookings_total": len(all_bookings),
        "per_second": in_window / seconds,
        "requests_per_second": requests_in_window / seconds,
        "pages": {
            page: {
                "n": len(v),
                "p50": 1000 * percentile(sorted(v), 0.50),
                "p99": 1000 * percentile(sorted(v), 0.99),
            }
            for page, v in pages.items()
        },
        "flow_p50": 1000 * percentile(flows, 0.50),
        "flow_p99": 1000 * percentile(flows, 0.99),
        "server_errors": server_errors,
        "other_errors": other_errors,
        "server_errors_total": total_5xx,
        "other_errors_total": total_other,
        "rejections": rejections,
        "queued": [q for o in outcomes for q in o["queued"]],
        "out_of_residents": any(o["out_of_residents"] for o in outcomes),
        "client_cpu": sum(o["cpu_window"] for o in outcomes),
        "residents_used": sum(o["used"] for o in outcomes),
    }


PAGE_ORDER = (
    "front",
    "sign_in",
    "person",
    "book",
    "book_site",
    "book_day",
    "hold",
    "confirm_page",
    "confirm",
    "detail",
    "api_book",
    "health",
)
