"""JSON bodies rendered once and served as bytes, with an ETag for conditional requests.

A large read (a plan with dozens of items) spends more time in DRF's JSON rendering than in its
database queries. A view that caches a response can cache the rendered bytes instead of the
serializer's data, and serve them without rendering again, as long as the caller negotiated
plain JSON; every other representation (the browsable API, `?format=api`, an indented
`Accept: application/json; indent=4`) goes through DRF's renderers as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request


@dataclass(frozen=True)
class RenderedJson:
    """A response body exactly as DRF's JSONRenderer wrote it, and its strong ETag."""

    content: bytes
    etag: str

    @classmethod
    def render(cls, data, request: Request, renderer_context: dict) -> RenderedJson:
        """Render with the negotiated renderer, so the bytes are those DRF would have sent.

        The ETag is a digest of the bytes themselves: a 304 then means exactly "the body has not
        changed", including names of related rows (a patient renamed) that do not move the
        object's own revision.
        """
        content = request.accepted_renderer.render(
            data, request.accepted_media_type, renderer_context
        )
        return cls(content, f'"{hashlib.blake2b(content, digest_size=16).hexdigest()}"')

    def response(self, request: Request) -> HttpResponse:
        """A 200 with the body and its ETag, or a 304 when If-None-Match names the ETag.

        Headers DRF adds to every response (Allow, Vary: Accept) are added by the view's
        finalize_response, to this response as to any other.
        """
        response = HttpResponse(self.content, content_type=JSONRenderer.media_type)
        response["ETag"] = self.etag
        return get_conditional_response(request, etag=self.etag, response=response)


def negotiated_plain_json(request: Request) -> bool:
    """True when the caller gets DRF's JSON rendering with no media type parameters.

    Only that representation may be served from cached bytes: the browsable API renders HTML
    around the data, and `indent=` changes the bytes.
    """
    return (
        type(request.accepted_renderer) is JSONRenderer
        and request.accepted_media_type == JSONRenderer.media_type
    )
