"""Pagination shared by every list method: the request of the page after a response."""

from __future__ import annotations

from typing import Protocol, TypeVar

from google.protobuf.message import Message


class _PagedResponse(Protocol):
    @property
    def next_page_token(self) -> str: ...


_Request = TypeVar("_Request", bound=Message)


def next_page(request: _Request, response: _PagedResponse) -> _Request | None:
    """A copy of ``request`` asking for the page after ``response``; None after the last."""
    if not response.next_page_token:
        return None
    following = type(request)()
    following.CopyFrom(request)
    following.page_token = response.next_page_token  # type: ignore[attr-defined]
    return following
