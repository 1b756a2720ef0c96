"""ACRCloud Base Projects and Metadata API contract: request bodies and hosts (pure; no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_music.contract.acrcloud import AUDIO_TYPES, PROJECT_TYPES, bucket_path, check_region
from airflow_provider_music.core.errors import InvalidInputError


def project_body(
    *, name: Any = None, region: Any = None, type: Any = None, buckets: Any = None,  # noqa: A002
    audio_type: Any = None, external_ids: Any = None, creating: bool = True,
) -> dict[str, Any]:
    """The JSON body of ``POST /base-projects`` (all of name, region, type, buckets) or ``PUT`` (any)."""
    body: dict[str, Any] = {}
    if creating or name is not None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("name is required (a non-empty string)")
        body["name"] = name
    if creating or region is not None:
        body["region"] = check_region(region)
    if creating or type is not None:
        if type not in PROJECT_TYPES:
            raise InvalidInputError(f"type must be one of {', '.join(PROJECT_TYPES)}, got {type!r}")
        body["type"] = type
    if creating or buckets is not None:
        if not isinstance(buckets, (list, tuple)) or not buckets:
            raise InvalidInputError("buckets must be a non-empty list of bucket ids")
        body["buckets"] = [int(bucket_path(b, argument="buckets")) for b in buckets]
    if audio_type is not None:
        if audio_type not in AUDIO_TYPES:
            raise InvalidInputError(f"audio_type must be 'linein' or 'recorded', got {audio_type!r}")
        body["audio_type"] = audio_type
    if external_ids is not None:
        if isinstance(external_ids, str):
            external_ids = [x.strip() for x in external_ids.split(",") if x.strip()]
        if not isinstance(external_ids, (list, tuple)) or not all(isinstance(x, str) for x in external_ids):
            raise InvalidInputError("external_ids must be a list of names such as ['spotify', 'isrc']")
        body["external_ids"] = list(external_ids)
    if not body:
        raise InvalidInputError("update_base_project needs at least one of name, buckets, audio_type")
    return body


def project_credentials(project: Mapping[str, Any]) -> dict[str, Any]:
    """A base project with its ``access_secret`` removed (it is a secret: keep it out of XCom and logs)."""
    return {k: v for k, v in project.items() if k != "access_secret"}


METADATA_PLATFORMS = (
    "spotify", "deezer", "youtube", "applemusic", "tidal", "gaana", "awa", "kkbox", "soundcloud", "musicbrainz",
)


def metadata_params(
    *, source_url: Any = None, isrc: Any = None, acr_id: Any = None, query: Any = None,
    platforms: Any = None, include_works: Any = None,
) -> dict[str, Any]:
    """Query of ``GET /external-metadata/tracks``: exactly one of source_url, isrc, acr_id or query."""
    given = {k: v for k, v in {"source_url": source_url, "isrc": isrc, "acr_id": acr_id, "query": query}.items() if v}
    if len(given) != 1:
        raise InvalidInputError("metadata lookup needs exactly one of source_url, isrc, acr_id or query")
    for key, value in given.items():
        if not isinstance(value, str) or len(value) > 2048:
            raise InvalidInputError(f"{key} must be a string of at most 2048 characters")
    params: dict[str, Any] = dict(given)
    if platforms is not None:
        items = platforms.split(",") if isinstance(platforms, str) else list(platforms)
        items = [str(p).strip() for p in items if str(p).strip()]
        unknown = [p for p in items if p not in METADATA_PLATFORMS]
        if unknown or not 1 <= len(items) <= 5:
            raise InvalidInputError(f"platforms: 1 to 5 of {', '.join(METADATA_PLATFORMS)}, got {platforms!r}")
        params["platforms"] = ",".join(items)
    if include_works is not None:
        params["include_works"] = 1 if include_works else 0
    return params


def metadata_base_url(base_url: str, *, explicit: Any = None) -> str:
    """Host of the Metadata API: the ``metadata_base_url`` extra, else ``eu-api-v2`` (the only host the docs
    give) when the connection points at ACRCloud's Console host, else the connection's host (emulator)."""
    if explicit:
        return str(explicit).rstrip("/") + "/"
    if (urlsplit(base_url).hostname or "").lower() == "api-v2.acrcloud.com":
        return "https://eu-api-v2.acrcloud.com/api/"
    return base_url


__all__ = ["METADATA_PLATFORMS", "metadata_base_url", "metadata_params", "project_body", "project_credentials"]
