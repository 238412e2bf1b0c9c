"""The console's pages and the few requests that change something (sign-in, decide, refresh).

Every page needs a signed-in user with a role; an anonymous request gets the sign-in page and
nothing else. Every POST needs the session's CSRF token and, when the browser sends an
``Origin``, this host's. Deciding needs the approver role and goes through
:func:`imagegate.console.seams.decide_one` (``run/review.py``, like ``imagegate approve``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from imagegate.console.app import PREFIX, console_of, identity_of, set_identity
from imagegate.console.auth import Identity, same_origin
from imagegate.console.catalogue import State, build_catalogue, filter_catalogue
from imagegate.console.passwords import check_user
from imagegate.console.seams import decide_one, needs_override, verdicts_for
from imagegate.console.sessions import new_session
from imagegate.console.timeline import HEIGHT, WIDTH, timeline
from imagegate.domain.units import human_bytes
from imagegate.errors import ImagegateError, StateError
from imagegate.state import EventKind, PendingStatus

STATIC = Path(__file__).parent / "static"
MAX_REASON = 500
MAX_EVENTS = 300
MAX_TIMELINES = 30
MAX_ROLLBACKS = 5000  # the latest rollback events read for the catalogue


def render(request: web.Request, template: str, *, status: int = 200, **ctx: Any) -> web.Response:
    console = console_of(request)
    who = identity_of(request)
    body = console.env.get_template(template).render(
        prefix=PREFIX,
        who=who,
        csrf=console.signer.csrf_token(who.session),
        config_error=console.config_error,
        human_bytes=human_bytes,
        **ctx,
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _viewer(request: web.Request) -> Identity:
    """The signed-in user allowed to look; otherwise the sign-in (or refusal) page is raised."""
    who = identity_of(request)
    if not who.user:
        raise web.HTTPFound(f"{PREFIX}/signin")
    if who.role is None:
        raise _refusal(request, f"{who.user} is signed in but is not a viewer or approver", 403)
    return who


def _refusal(request: web.Request, message: str, status: int) -> web.HTTPException:
    text = render(request, "refused.html", status=status, message=message).text
    exc = web.HTTPForbidden if status == 403 else web.HTTPBadRequest
    return exc(text=text, content_type="text/html")


async def _form(request: web.Request) -> dict[str, str]:
    """The posted form, after the CSRF and origin checks."""
    console = console_of(request)
    who = identity_of(request)
    data = await request.post()
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    if not same_origin(request, console.settings) or not console.signer.check_csrf(
        who.session, form.get("csrf", "")
    ):
        raise _refusal(request, "refused: the form did not come from this console", 403)
    return form


async def index(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{PREFIX}/catalogue")


async def signin_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    status = 401 if not identity_of(request).user else 200
    return render(
        request,
        "signin.html",
        status=status,
        error="",
        password=console.settings.users_file is not None,
        proxy=console.settings.proxy is not None,
    )


async def signin(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await _form(request)
    name, password = form.get("user", "").strip(), form.get("password", "")
    ok = False
    if console.settings.users_file is not None and name and not console.throttled(name):
        ok = check_user(console.users(), name, password)
        if not ok:
            console.failed_sign_in(name)
    if not ok:
        return render(
            request,
            "signin.html",
            status=401,
            error="Unknown user or wrong password (or too many attempts: wait a few minutes).",
            password=console.settings.users_file is not None,
            proxy=console.settings.proxy is not None,
        )
    expires = int(time.time() + console.settings.session_ttl.total_seconds())
    who = Identity(name, console.settings.role_of(name), new_session(name, expires))
    set_identity(request, who)  # the middleware sets the new cookie (a fresh session id)
    raise web.HTTPFound(f"{PREFIX}/catalogue")


async def signout(request: web.Request) -> web.StreamResponse:
    await _form(request)
    set_identity(request, Identity("", None, new_session("", int(time.time()) + 3600)))
    raise web.HTTPFound(f"{PREFIX}/signin")


async def catalogue(request: web.Request) -> web.StreamResponse:
    _viewer(request)
    console = console_of(request)
    query = request.query.get("q", "")[:200]
    state_text = request.query.get("state", "")
    state = next((s for s in State if s.name.lower() == state_text), None)
    with console.open_state(readonly=True) as store:
        rollbacks = store.events(kind=EventKind.ROLLED_BACK, limit=MAX_ROLLBACKS)
        images = build_catalogue(
            console.config,
            store.tags(),
            store.pending(None),
            console.refresher.snapshot,
            rollbacks=rollbacks,
        )
        rows = filter_catalogue(images, query, state)
        verdicts = {
            (img.target_repo, t.tag): verdicts_for(store, img.target_repo, t.digest)
            for img in rows
            for t in img.tags
            if t.digest is not None
        }
    return render(
        request,
        "catalogue.html",
        images=rows,
        total=sum(len(i.tags) for i in images),
        shown=sum(len(i.tags) for i in rows),
        query=query,
        state=state,
        states=list(State),
        snapshot=console.refresher.snapshot,
        verdicts=verdicts,
    )


async def review(request: web.Request) -> web.StreamResponse:
    _viewer(request)
    console = console_of(request)
    with console.open_state(readonly=True) as store:
        changes = store.pending(PendingStatus.PENDING)
        items = [(c, verdicts_for(store, c.target_repo, c.new_digest)) for c in changes]
        decided = [c for c in store.pending(None) if c.status is not PendingStatus.PENDING][-10:]
    entries = {e.target.name: e for e in console.config.images}
    return render(
        request,
        "review.html",
        items=[(c, v, needs_override(v), entries.get(c.target_repo)) for c, v in items],
        decided=list(reversed(decided)),
        message=request.query.get("done", "")[:300],
    )


async def decide(request: web.Request) -> web.StreamResponse:
    who = _viewer(request)
    console = console_of(request)
    form = await _form(request)
    if not who.can_decide:
        raise _refusal(request, f"{who.user} is a viewer: only approvers decide", 403)
    try:
        change_id = int(request.match_info["id"])
        status = {"approve": PendingStatus.APPROVED, "reject": PendingStatus.REJECTED}[
            form.get("decision", "")
        ]
    except (ValueError, KeyError):
        raise _refusal(request, "refused: approve or reject one pending change", 400) from None
    reason = form.get("reason", "").strip()[:MAX_REASON]
    override = form.get("override", "").strip()[:MAX_REASON]
    try:
        with console.open_state(readonly=False) as store:
            change = store.get_pending(change_id)
            verdicts = verdicts_for(store, change.target_repo, change.new_digest)
            if status is PendingStatus.APPROVED and needs_override(verdicts) and not override:
                raise _refusal(
                    request, "refused: a gate failed; approving needs an override reason", 400
                )
            done = decide_one(
                store,
                console.config,
                change,
                status,
                by=who.user,
                reason=reason,
                override=override,
            )
    except (StateError, ImagegateError) as exc:
        raise _refusal(request, f"refused: {exc}", 400) from None
    console.refresher.wake()
    message = f"{done.status} {done.target_repo}:{done.tag}@{done.new_digest.short}"
    raise web.HTTPFound(f"{PREFIX}/review?done={message}")


async def refresh(request: web.Request) -> web.StreamResponse:
    _viewer(request)
    await _form(request)
    console_of(request).refresher.wake()
    raise web.HTTPFound(f"{PREFIX}/catalogue")


async def activity(request: web.Request) -> web.StreamResponse:
    _viewer(request)
    console = console_of(request)
    image = request.query.get("image", "")[:300]
    actor = request.query.get("actor", "")[:200]
    kind_text = request.query.get("kind", "")
    kind = next((k for k in EventKind if k.value == kind_text), None)
    entry = console.config.find_image(image) if image else None
    repo = entry.target.name if entry is not None else (image or None)
    now = datetime.now(UTC)
    with console.open_state(readonly=True) as store:
        runs = store.runs(limit=30)
        events = store.events(image=repo, kind=kind, limit=MAX_EVENTS * 4)
        if actor:
            events = tuple(e for e in events if e.actor == actor)
        events = tuple(reversed(events[-MAX_EVENTS:]))
        timelines = []
        if repo is not None:
            for rec in store.tags(repo)[:MAX_TIMELINES]:
                timelines.append((rec.tag, timeline(store.tag_history(repo, rec.tag), now)))
    return render(
        request,
        "activity.html",
        runs=runs,
        events=events,
        image=image,
        actor=actor,
        kind=kind,
        kinds=list(EventKind),
        images=[e.target.familiar for e in console.config.images],
        timelines=timelines,
        width=WIDTH,
        height=HEIGHT,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/signin", signin_page)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
    app.router.add_get("/catalogue", catalogue)
    app.router.add_get("/review", review)
    app.router.add_post("/review/{id:[0-9]{1,12}}", decide)
    app.router.add_post("/refresh", refresh)
    app.router.add_get("/activity", activity)
    app.router.add_static("/static", STATIC, follow_symlinks=False)
