"""The web application: routes, sign-in, and the pages, each a thin view of a use case.

Who sees what is the command line's rule (``renovation.services.scope``), applied by the same
services with the person signed in as the user: a contractor sees its own compounds' details and never
a blind sample before its result; another contractor's compound is a 404, as for a code that is not
there. A visitor who has not signed in sees the horse-race board if ``[web] public_ranking`` allows it,
and is sent to sign in for everything else. With no ``[users]`` in ``renovation.toml`` (a single-user
laptop) nobody signs in and everything is shown, as on the command line; ``renovation serve`` then
listens on this machine only.

Live: every page catches its read models up with the log when it is asked for (as a read command
does), so a write made from the command line shows on the next request; the ``?screen=1`` layout asks
the server every second for a token of the log's head and reloads when it has changed.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from renovation.domain import errors
from renovation.report.labels import display, label
from renovation.web import views

if TYPE_CHECKING:
    from renovation.services.workspace import Workspace

T = TypeVar("T")
HERE = Path(__file__).parent
LOG = logging.getLogger("renovation.web")

#: The user name of a visitor who has not signed in: no name in [users] can be it (control characters
#: are refused there), so every scoped service shows them nothing but the public board.
ANONYMOUS = "\x00anonymous"
#: The query parameters the pages read (``views``); the others do not change a page.
QUERY = frozenset({"period", "by", "computed", "date", "lang", "screen"})
#: The least time between two drawings of one report (the log may have moved on meanwhile).
REPORT_SECONDS = 60.0
#: The most a sign-in form's body may be.
FORM_LIMIT = 4096
#: Sign-ins checked at once (argon2 takes 64 MiB and tens of milliseconds each).
HASHING_AT_ONCE = 2

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser sends "Origin: null" with the sign-in and sign-out forms' POST,
    # which the same-origin check below refuses; same-origin still sends nothing to another site.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
#: The report is one self-contained document with its own inline style and SVG charts.
REPORT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
                 "base-uri 'none'; form-action 'none'")


class Workspaces:
    """A few workspaces (store, configuration, application, read models), each used by one request at a
    time: the server's threads share them instead of each opening connections of its own.

    Each reads ``renovation.toml`` (``config``) when first used; once the file has changed, a workspace
    is closed and made anew before its next request, so that a person removed from ``[users]`` is signed
    out on their next page (and one given another role sees what it sees), as the command line's next
    command would have it, and every request sees the same file."""

    def __init__(self, make: Callable[[], Workspace], size: int, config: Path | None = None) -> None:
        self._make = make
        self._config = config
        self._idle: queue.LifoQueue[tuple[Workspace, object]] = queue.LifoQueue()
        self._made: list[Workspace] = []
        self._read_at: dict[int, object] = {}  # by workspace: the file as it was when the workspace read it
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()

    def _stamp(self) -> object:
        """What tells that the configuration file changed (None: there is none)."""
        if self._config is None:
            return None
        try:
            found = self._config.stat()
        except OSError:
            return None
        return (found.st_mtime_ns, found.st_size, found.st_ino)

    @contextlib.contextmanager
    def take(self) -> Iterator[Workspace]:
        with self._slots:
            stamp = self._stamp()
            try:
                ws, made_at = self._idle.get_nowait()
            except queue.Empty:
                ws, made_at = None, None
            if ws is not None and made_at != stamp:  # renovation.toml changed since: read it anew
                with self._lock:
                    self._made.remove(ws)
                    self._read_at.pop(id(ws), None)
                ws.close()
                ws = None
            if ws is None:
                ws = self._make()
                with self._lock:
                    self._made.append(ws)
            self._read_at[id(ws)] = stamp
            try:
                yield ws
            finally:
                self._idle.put((ws, stamp))

    def read_at(self, ws: Workspace) -> object:
        """The configuration file as ``ws`` (taken now) read it: what a page drawn with it is kept by (the
        file read again now might already be a later one than the page was drawn with)."""
        return self._read_at[id(ws)]

    def close(self) -> None:
        with self._lock:
            for ws in self._made:
                ws.close()
            self._made.clear()


@dataclass
class Attempts:
    """Failed sign-ins, counted per key within ``window`` seconds: after a key's limit, more are refused
    (429) without checking a password until the oldest failure is that old.

    The keys (``keys_of``): a name from one address may fail ``limit`` times; one address ``limit`` × 4
    (an office behind one address); one name, from anywhere, ``limit`` × 10 (guessing one person's
    password from many addresses). So a stranger who fails as the bureau's name locks out only
    themselves, unless they fail from many addresses."""

    limit: int
    window: float
    failures: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [at for at in self.failures.get(key, []) if now - at < self.window]
        if kept:
            self.failures[key] = kept
        else:
            self.failures.pop(key, None)
        return kept

    def keys_of(self, name: str, address: str) -> list[str]:
        return [f"pair:{address}:{name}", f"address:{address}", f"name:{name}"]

    def _limit(self, key: str) -> int:
        kind = key.partition(":")[0]
        return self.limit * {"pair": 1, "address": 4, "name": 10}[kind]

    def begin(self, keys: list[str]) -> tuple[int, float]:
        """Take an attempt for these keys, counted as failed until ``succeeded`` says otherwise (so
        attempts sent all at once are counted before any password is checked): (0, its time), or the
        seconds to wait and nothing taken."""
        now = time.monotonic()
        with self.lock:
            waits = [self.window - (now - recent[-self._limit(key)]) for key in keys
                     if len(recent := self._recent(key, now)) >= self._limit(key)]
            if waits:
                return int(max(waits)) + 1, now
            if len(self.failures) > 100_000:  # many names or addresses: forget those whose window has passed
                for key in list(self.failures):
                    self._recent(key, now)
            for key in keys:
                self.failures.setdefault(key, []).append(now)
        return 0, now

    def succeeded(self, keys: list[str], at: float) -> None:
        """The attempt taken at ``at`` was right: it is not a failure, and the name's failures from this
        address (the first key) are forgiven."""
        with self.lock:
            self.failures.pop(keys[0], None)
            for key in keys[1:]:
                found = self.failures.get(key)
                if found is not None and at in found:
                    found.remove(at)


@dataclass(frozen=True)
class SignIn:
    user: str
    key: str  # what it kept of the password (``renovation.services.accounts.key``)
    since: float


class SignIns:
    """The sign-ins this server has made and not ended, by the random id their cookie carries: signing
    out ends one here, so a copy of its cookie is worth nothing afterwards. Kept in memory: a restart
    signs everyone out."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self._open: dict[str, SignIn] = {}
        self._lock = threading.Lock()

    def open(self, user: str, key: str) -> str:
        now = time.time()
        with self._lock:
            for found in [sid for sid, made in self._open.items() if now - made.since >= self.seconds]:
                del self._open[found]  # those past their time
            while len(self._open) >= 100_000:  # one person signing in again and again: the oldest end
                del self._open[next(iter(self._open))]
            sid = secrets.token_urlsafe(24)
            self._open[sid] = SignIn(user, key, now)
        return sid

    def get(self, sid: object) -> SignIn | None:
        if not isinstance(sid, str):
            return None
        with self._lock:
            found = self._open.get(sid)
            if found is not None and not 0 <= time.time() - found.since < self.seconds:
                del self._open[sid]
                return None
            return found

    def end(self, sid: object) -> None:
        if isinstance(sid, str):
            with self._lock:
                self._open.pop(sid, None)


class Recent(Generic[T]):
    """The last few documents drawn, by what they were drawn from (thread-safe)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: dict[Any, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> T | None:
        with self._lock:
            return self._kept.get(key)

    def put(self, key: Any, document: T) -> None:
        with self._lock:
            self._kept.pop(key, None)
            self._kept[key] = document
            while len(self._kept) > self.size:
                del self._kept[next(iter(self._kept))]


@dataclass
class Site:
    """What every request shares."""

    workspaces: Workspaces
    today: Callable[[Workspace], date]
    lang: str
    open_access: bool
    local_user: str
    public_ranking: bool
    session_seconds: int
    attempts: Attempts
    hashing: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(HASHING_AT_ONCE))
    #: Sign-ins being checked or waiting for it: beyond this many, another is turned away at once (503)
    #: rather than holding one of the server's threads.
    checking: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(HASHING_AT_ONCE + 4))
    templates: Environment = field(default_factory=lambda: environment())
    reports: Recent[tuple[int, str, float]] = field(default_factory=lambda: Recent(16))
    drawing: threading.Lock = field(default_factory=threading.Lock)
    pages: Recent[str] = field(default_factory=lambda: Recent(256))
    signins: SignIns = field(init=False)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def __post_init__(self) -> None:
        self.signins = SignIns(self.session_seconds)

    def token(self, head: int) -> str:
        """The log's head as the screen's script sees it: changes when the head does, tells no count."""
        import hmac

        return hmac.new(self.secret, str(head).encode(), "sha256").hexdigest()[:20]


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["label"] = label
    env.globals["show"] = display
    env.globals["table"] = lambda *args, **kwargs: Markup(views.table(*args, **kwargs))
    return env


# -- who asks ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    user: str  # the name services scope by (ANONYMOUS: nobody signed in)
    signed_in: bool
    role: str | None
    lang: str
    screen: bool


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def lang_of(request: Request, site: Site) -> str:
    asked = request.query_params.get("lang")
    if asked in ("zh", "en"):
        request.session["lang"] = asked
        return asked
    kept = request.session.get("lang")
    if kept in ("zh", "en"):
        return str(kept)
    accepted = request.headers.get("accept-language", "").strip().lower()
    if accepted:
        return "zh" if accepted.startswith("zh") else "en"
    return site.lang


def visitor(request: Request, ws: Workspace) -> Visitor:
    site = site_of(request)
    lang = lang_of(request, site)
    screen = request.query_params.get("screen") == "1"
    if site.open_access:
        return Visitor(site.local_user, True, None, lang, screen)
    sid = request.session.get("sid")
    found = site.signins.get(sid)
    if found is not None:
        from renovation.services import accounts

        role = ws.config.access().role(found.user)
        if role is not None and found.key == accounts.key(ws, found.user):
            return Visitor(found.user, True, role, lang, screen)
    if sid is not None:  # signed out, past its time, removed from [users], or the password changed
        site.signins.end(sid)
        request.session.pop("sid", None)
    return Visitor(ANONYMOUS, False, None, lang, screen)


def page(handler: Callable[[Request, Workspace, Visitor], Response], *, public: bool = False,
         kept: bool = True) -> Callable[..., Any]:
    """A page: a workspace from the pool, who asks, and the sign-in asked for where it is needed. Runs
    in the server's thread pool (the services are blocking).

    ``kept``: a page is a function of what was asked (path and query), by whom, in which language and
    layout, the log's head, the day and ``renovation.toml``; drawn once for those, it is served again
    until one of them changes (the next event recorded draws it anew). The head is read before the
    drawing catches the read models up, so what is kept is never older than its key."""

    def endpoint(request: Request) -> Response:
        site = site_of(request)
        with unavailable(request), site.workspaces.take() as ws:
            who = visitor(request, ws)
            if not who.signed_in and not (public and site.public_ranking):
                return RedirectResponse(f"/signin?{urlencode({'next': wanted(request)})}", status_code=303)
            key: tuple[Any, ...] | None = None
            if kept or who.screen:
                head = ws.backend.log_head()
                if who.screen:  # the screen reloads itself once the log has gone past it
                    request.state.head = site.token(head)
                asked = tuple(sorted((name, value) for name, value in request.query_params.multi_items()
                                     if name in QUERY))  # what the pages read; nothing else draws anew
                key = (request.url.path, asked, who.user, who.lang, who.screen, head, site.today(ws),
                       site.workspaces.read_at(ws))
                found = site.pages.get(key) if kept else None
                if found is not None:
                    return HTMLResponse(found)
            try:
                response = handler(request, ws, who)
            except errors.CompoundNotFound:
                raise HTTPException(404) from None
            except errors.DomainError as error:  # a rule refused what was asked (a period not begun, ...)
                raise HTTPException(400, error.render(who.lang)) from None
            except ValueError as error:
                raise HTTPException(400, str(error)) from None
            if kept and key is not None and response.status_code == 200 and isinstance(response, HTMLResponse):
                site.pages.put(key, bytes(response.body).decode("utf-8"))
            return response

    return endpoint


@contextlib.contextmanager
def unavailable(request: Request) -> Iterator[None]:
    """A store or renovation.toml that cannot answer (the database busy or gone, the file broken while
    serving) is a 503 and one line in the log, not a traceback; a read model holding what the tracker did
    not write, a 500 saying what mends it."""
    from renovation.services.errors import BadValue, reportable

    try:
        yield
    except HTTPException:
        raise
    except errors.DomainError:
        raise
    except BadValue as error:  # not a passing state: it stays until someone mends the read models
        LOG.warning("%s %s: %s", request.method, request.url.path, " ".join(str(error).split())[:300])
        raise HTTPException(500, "damaged") from None
    except reportable() as error:
        LOG.warning("%s %s: %s", request.method, request.url.path, " ".join(str(error).split())[:300])
        raise HTTPException(503, "unavailable", headers={"Retry-After": "5"}) from None


def wanted(request: Request) -> str:
    """The path and query asked for, to come back to after signing in (never another site)."""
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(raw: str | None) -> str:
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw or any(ch < " " for ch in raw):
        return "/"
    return raw


def same_origin(request: Request) -> bool:
    """Whether a form was posted from this site (a browser says where from in Origin). Behind an HTTPS
    proxy (RENOVATION_WEB_HTTPS=1) the browser's origin is https:// while this server hears http."""
    origin = request.headers.get("origin")
    scheme = "https" if request.app.state.https else request.url.scheme
    return origin is None or origin == f"{scheme}://{request.url.netloc}"


def render(request: Request, who: Visitor, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    site = site_of(request)
    other = {**request.query_params, "lang": "en" if who.lang == "zh" else "zh"}
    document = site.templates.get_template(template).render(
        who=who, lang=who.lang, path=request.url.path, other_lang=f"?{urlencode(other)}", words=views.words(who.lang),
        public_ranking=site.public_ranking, open_access=site.open_access, head=getattr(request.state, "head", None),
        **context)
    return HTMLResponse(document, status_code=status)


# -- pages -------------------------------------------------------------------------------------------------


def ranking_page(request: Request, ws: Workspace, who: Visitor) -> Response:
    query = views.RankingQuery.of(request.query_params)
    if query.computed and not who.signed_in:
        return RedirectResponse(f"/signin?{urlencode({'next': wanted(request)})}", status_code=303)
    today = site_of(request).today(ws)
    return render(request, who, "ranking.html", **views.ranking(ws, who.user, today, query))


def progress_page(request: Request, ws: Workspace, who: Visitor) -> Response:
    return render(request, who, "progress.html", **views.progress(ws, who.user, site_of(request).today(ws)))


def quality_page(request: Request, ws: Workspace, who: Visitor) -> Response:
    by = views.choice(request.query_params, "by", ("compound", "contractor"))
    return render(request, who, "quality.html", **views.quality(ws, who.user, site_of(request).today(ws), by))


def digest_page(request: Request, ws: Workspace, who: Visitor) -> Response:
    today = site_of(request).today(ws)
    return render(request, who, "digest.html", **views.digest(ws, who.user, today, request.query_params, who.lang))


def worklist_page(request: Request, ws: Workspace, who: Visitor) -> Response:
    return render(request, who, "worklist.html", **views.worklist(ws, who.user, site_of(request).today(ws)))


def compound_page(request: Request, ws: Workspace, who: Visitor) -> Response:
    code = views.code_of(request.path_params["code"])
    return render(request, who, "compound.html", **views.compound(ws, who.user, site_of(request).today(ws), code))


def report_page(request: Request, ws: Workspace, who: Visitor) -> Response:
    from renovation.services import report
    from renovation.services.scope import company

    site = site_of(request)
    period = views.period_of(request.query_params)
    today = site.today(ws)
    if period is not None:
        from renovation.services.boards import check_period

        check_period(period, today)  # a period not begun is refused, as the ranking refuses it
    # The report draws about a second of charts; it changes only with the log, the day and who asks (the
    # compounds they see): kept for those with the head it was drawn at. Once an event is recorded it is
    # drawn again, at most once every REPORT_SECONDS, behind the scenes: the last one drawn is served
    # meanwhile (events every few seconds would otherwise keep a core drawing, and a reader waiting).
    # One is drawn at a time; one never drawn is drawn for its first reader, or is "try again in a
    # moment" while another is drawn (nobody waits in line holding one of the few workspaces).
    head = ws.backend.log_head()
    key = (today, period, who.lang, company(ws, who.user), site.workspaces.read_at(ws))
    kept = site.reports.get(key)
    user, lang = who.user, who.lang

    def draw(into: Workspace) -> str:
        drawn = report.document(report.gathered(into, user, today, period), lang)
        site.reports.put(key, (head, drawn, time.monotonic()))
        return drawn

    if kept is None:
        if not site.drawing.acquire(blocking=False):
            raise HTTPException(503, "busy", headers={"Retry-After": "2"})
        try:
            document = draw(ws)
        finally:
            site.drawing.release()
    else:
        document = kept[1]
        if kept[0] != head and time.monotonic() - kept[2] >= REPORT_SECONDS and site.drawing.acquire(blocking=False):

            def behind() -> None:
                from renovation.services.errors import reportable

                try:
                    with site.workspaces.take() as other:
                        draw(other)
                except reportable() as error:  # the store busy or gone: the next reader tries again
                    LOG.warning("drawing the report again: %s", " ".join(str(error).split())[:300])
                finally:
                    site.drawing.release()

            threading.Thread(target=behind, name="report", daemon=True).start()
    assert document is not None
    response = HTMLResponse(document)
    response.headers["Content-Security-Policy"] = REPORT_POLICY
    return response


def head_endpoint(request: Request, ws: Workspace, who: Visitor) -> Response:
    """Where the log is, as a token that changes with it (not the number of events recorded)."""
    return JSONResponse({"head": site_of(request).token(ws.backend.log_head())})


def signin_form(request: Request) -> Response:
    site = site_of(request)
    if site.open_access:
        return RedirectResponse("/", status_code=303)
    lang = lang_of(request, site)
    who = Visitor(ANONYMOUS, False, None, lang, False)
    return render(request, who, "signin.html", next=safe_next(request.query_params.get("next")), failed=None)


async def signin(request: Request) -> Response:
    site = site_of(request)
    if site.open_access:
        return RedirectResponse("/", status_code=303)
    if not same_origin(request):
        raise HTTPException(403, "a sign-in comes from this site's own form")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise HTTPException(413)
    try:
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8"), max_num_fields=8).items()}
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "a sign-in form is name=...&password=...") from None
    name = " ".join(form.get("name", "").split())
    password = form.get("password", "")
    target = safe_next(form.get("next"))
    lang = lang_of(request, site)
    who = Visitor(ANONYMOUS, False, None, lang, False)
    address = request.client.host if request.client else "?"
    keys = site.attempts.keys_of(name, address)
    pause, at = site.attempts.begin(keys)
    if pause:
        response = render(request, who, "signin.html", status=429, next=target, failed="wait", seconds=pause)
        response.headers["Retry-After"] = str(pause)
        return response
    if not site.checking.acquire(blocking=False):  # sign-ins queue for argon2 only a few deep
        raise HTTPException(503, "busy_signin", headers={"Retry-After": "1"})

    def check() -> str | None:
        from renovation.services.accounts import verify

        try:
            with site.hashing, unavailable(request), site.workspaces.take() as ws:
                return verify(ws, name, password)
        finally:
            site.checking.release()

    key = await run_in_threadpool(check)
    if key is None:
        return render(request, who, "signin.html", status=401, next=target, failed="wrong")
    site.attempts.succeeded(keys, at)
    site.signins.end(request.session.get("sid"))
    request.session.clear()
    request.session.update({"sid": site.signins.open(name, key), "lang": lang})
    return RedirectResponse(target, status_code=303)


async def signout(request: Request) -> Response:
    if not same_origin(request):
        raise HTTPException(403, "a sign-out comes from this site's own form")
    site_of(request).signins.end(request.session.get("sid"))
    request.session.clear()
    return RedirectResponse("/", status_code=303)


def favicon(_request: Request) -> Response:
    """The icon, for a page that names none (the report is a document of its own)."""
    return FileResponse(HERE / "static" / "icon.svg", media_type="image/svg+xml")


def home(request: Request) -> Response:
    return RedirectResponse("/ranking" + (f"?{request.url.query}" if request.url.query else ""), status_code=303)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    site = site_of(request)
    lang = lang_of(request, site) if "session" in request.scope else site.lang
    who = Visitor(ANONYMOUS, False, None, lang, False)
    words = views.words(lang)
    detail = error.detail if error.status_code == 400 else words.get(error.detail) if error.status_code in (500, 503) \
        else None
    document = site.templates.get_template("error.html").render(
        who=who, lang=lang, path="", other_lang="?lang=" + ("en" if lang == "zh" else "zh"), words=words,
        status=error.status_code, head=None,
        detail=detail, public_ranking=False, open_access=False)
    return HTMLResponse(document, status_code=error.status_code, headers=error.headers)


async def server_error(request: Request, error: Exception) -> Response:
    """A fault of the server or the database: logged, and one plain page (never a traceback)."""
    from renovation.services.errors import reportable

    if isinstance(error, reportable()):
        LOG.warning("%s %s: %s", request.method, request.url.path, " ".join(str(error).split())[:300])
        return HTMLResponse("<!DOCTYPE html><title>503</title><p>The store cannot answer now; try again.</p>",
                            status_code=503)
    LOG.exception("%s %s", request.method, request.url.path)
    return HTMLResponse("<!DOCTYPE html><title>500</title><p>Something went wrong.</p>", status_code=500)


class Headers:
    """Security headers on every response (ASGI middleware)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _value in message.get("headers", [])}
                extra = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()
                         if name.lower().encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, sending)


def create_app(site: Site, *, https_only: bool = False) -> Starlette:
    routes = [
        Route("/", home),
        Route("/favicon.ico", favicon),
        Route("/ranking", page(ranking_page, public=True)),
        Route("/progress", page(progress_page)),
        Route("/quality", page(quality_page)),
        Route("/digest", page(digest_page)),
        Route("/worklist", page(worklist_page)),
        Route("/compound/{code}", page(compound_page)),
        Route("/report", page(report_page, kept=False)),  # kept by its own key (``report_page``)
        Route("/head", page(head_endpoint, public=True, kept=False)),
        Route("/signin", signin_form, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        # Without [users] nothing is asked of a visitor: only this machine's own names are answered, so a
        # page of another site cannot read the boards by pointing its name at this address (DNS rebinding).
        Middleware(Headers),
        *([Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "::1", "[::1]"])]
          if site.open_access else []),
        Middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32), session_cookie="renovation",
                   max_age=site.session_seconds, same_site="lax", https_only=https_only),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            site.workspaces.close()

    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={HTTPException: http_error, Exception: server_error}, lifespan=lifespan)
    app.router.redirect_slashes = False  # a redirect built from the Host header sends nowhere else
    app.state.site = site
    app.state.https = https_only
    return app
