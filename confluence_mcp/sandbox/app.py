"""Assemble the sandbox ASGI app: store + seed, routes per flavour, auth and fault middleware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from confluence_mcp.sandbox.auth import GATEWAY_PREFIX, AuthMiddleware
from confluence_mcp.sandbox.faults import FaultMiddleware, FaultPlan
from confluence_mcp.sandbox.http import SandboxState, error_response
from confluence_mcp.sandbox.routes_attachments import attachment_routes, download_routes, media_routes
from confluence_mcp.sandbox.routes_content import content_routes
from confluence_mcp.sandbox.routes_misc import misc_routes
from confluence_mcp.sandbox.routes_search import search_routes
from confluence_mcp.sandbox.routes_v2 import v2_routes
from confluence_mcp.sandbox.routes_web import web_routes
from confluence_mcp.sandbox.seed import seed_store
from confluence_mcp.sandbox.store import Store, default_user

if TYPE_CHECKING:
    from confluence_mcp.sandbox.runner import SandboxOptions

__all__ = ["SandboxApp", "build_app", "site_context"]


class SandboxApp:
    """The ASGI callable plus handles tests and the runner use (store, fault plan, request log)."""

    def __init__(self, asgi: Starlette, wrapped: FaultMiddleware, store: Store, plan: FaultPlan) -> None:
        self.starlette, self.asgi, self.store, self.faults = asgi, wrapped, store, plan
        self.requests = wrapped.log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)


def site_context(flavor: str, context_path: str) -> str:
    """The path part of `_links.base`: `/wiki` on Cloud, the optional context path on Server."""
    if flavor == "cloud":
        return "/wiki"
    context = context_path.strip().rstrip("/")
    return "" if not context else context if context.startswith("/") else "/" + context


async def _not_found(request: Request, exc: Exception) -> Response:
    """An unknown REST path answers in the REST error envelope, as Confluence's does (clients parse it as JSON)."""
    if "/rest/" in request.url.path or "/api/v2/" in request.url.path:
        return error_response(request, 404, f"null for uri: {request.url}")
    return PlainTextResponse("Not Found", status_code=404)


def _tenant_info(cloud_id: str) -> Callable[[Request], Awaitable[Response]]:
    async def tenant_info(request: Request) -> Response:
        """Cloud's public `/_edge/tenant_info`: the site's cloud id."""
        return JSONResponse({"cloudId": cloud_id})
    return tenant_info


def build_app(options: SandboxOptions) -> SandboxApp:
    # Seed with every space writable and visible; the permissions apply to requests, not to the seed.
    store = Store(options.flavor, user=default_user(options.user))
    seed_store(store, options.seed)
    store.hidden_spaces = {key.upper() for key in options.hidden_spaces}
    store.read_only_spaces = {key.upper() for key in options.read_only_spaces}
    context = site_context(options.flavor, options.context_path)
    v1 = [*search_routes(), *attachment_routes(), *misc_routes(), *content_routes()]
    site: list[BaseRoute] = [Mount("/rest/api", routes=v1), *download_routes()]
    if options.flavor == "cloud":
        site.insert(1, Mount("/api/v2", routes=v2_routes()))
    site += web_routes()
    routes: list[BaseRoute] = [*media_routes(), *([Mount(context, routes=site)] if context else site)]
    if options.flavor == "cloud":  # Atlassian's API gateway: the same site under the cloud id, for scoped tokens
        routes += [Route("/_edge/tenant_info", _tenant_info(options.cloud_id), methods=["GET"]),
                   Mount(f"{GATEWAY_PREFIX}/{options.cloud_id}", routes=[Mount(context, routes=site)])]
    app = Starlette(routes=routes,
                    exception_handlers={404: _not_found})
    app.state.sandbox = SandboxState(store=store, flavor=options.flavor, context=context)
    plan = FaultPlan(rate=options.faults)
    guarded = AuthMiddleware(app, flavor=options.flavor, user=options.user, token=options.token,
                             scoped_token=options.scoped_token)
    return SandboxApp(app, FaultMiddleware(guarded, plan), store, plan)
