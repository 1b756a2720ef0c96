"""Emulator routes of ACRCloud base projects (``/api/base-projects``) and the Metadata API
(``/api/external-metadata/tracks``).

A base project's ``access_key``/``access_secret`` are accepted by ``/v1/identify`` and match only the
project's buckets. The Metadata API answers from the emulated "ACRCloud Music" tracks (by ``isrc``,
``acr_id`` or a ``query`` in the title or artist) and from bucket files (by ``acr_id``); the real answer
shape is not in any stored doc, so the records follow the identify ``music[]`` item.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.contract.acrcloud import AUDIO_TYPES, PROJECT_TYPES, REGIONS
from airflow_provider_music.testing.acrcloud_common import AcrCloudRoutes, iso

_PLATFORM_DEFAULT = ("spotify", "deezer", "youtube", "applemusic")


class AcrCloudProjectsApi(AcrCloudRoutes):
    """Base projects and track metadata."""

    def project_errors(self, body: dict[str, Any], *, creating: bool) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if creating:
            for key in ("name", "region", "type", "buckets"):
                if not body.get(key):
                    errors[key] = [f"The {key} field is required."]
        if body.get("region") and body["region"] not in REGIONS:
            errors["region"] = ["The selected region is invalid."]
        if body.get("type") and body["type"] not in PROJECT_TYPES:
            errors["type"] = ["The selected type is invalid."]
        if body.get("audio_type") not in (None, *AUDIO_TYPES):
            errors["audio_type"] = ["The selected audio type is invalid."]
        buckets = body.get("buckets")
        if buckets is not None and (not isinstance(buckets, list) or any(
            not str(b).isdigit() or int(str(b)) not in self.store.buckets for b in buckets
        )):
            errors["buckets"] = ["The selected buckets are invalid."]
        return errors

    def bucket_refs(self, ids: list[Any]) -> list[dict[str, Any]]:
        out = []
        for raw in ids:
            b = self.store.buckets[int(str(raw))]
            out.append({"id": b["id"], "name": b["name"], "type": b["type"], "metadata_template": b.get("metadata_template")})
        return out

    async def create_project(self, request: Request) -> Any:
        body, _ = await self.read_body(request)
        with self.state.lock:
            errors = self.project_errors(body, creating=True)
            if errors:
                return self.invalid("The given data was invalid.", errors)
            pid = self.store.next_project
            self.store.next_project += 1
            now = iso(self.state.now())
            external = body.get("external_ids") or []
            self.store.projects[pid] = {
                "uid": 1, "access_key": secrets.token_hex(16), "access_secret": secrets.token_urlsafe(30),
                "service_type": body["type"], "state": 1, "name": body["name"], "region": body["region"],
                "day_limit": 0, "total_limit": 0, "audio_type": body.get("audio_type") or "linein", "version": 1,
                "external_id": "", "updated_at": now, "created_at": now, "id": pid,
                "buckets": self.bucket_refs(body["buckets"]), "status_check": 2,
                "external_ids": external.split(",") if isinstance(external, str) else list(external),
            }
            return JSONResponse({"data": self.store.projects[pid]}, status_code=201)

    async def list_projects(self, request: Request) -> Any:
        with self.state.lock:
            return self.paginate(request, sorted(self.store.projects.values(), key=lambda p: p["id"]), dict)

    async def get_project(self, project_id: int) -> Any:
        with self.state.lock:
            project = self.store.projects.get(project_id)
            return {"data": dict(project)} if project else self.not_found("Project")

    async def update_project(self, project_id: int, request: Request) -> Any:
        body, _ = await self.read_body(request)
        with self.state.lock:
            project = self.store.projects.get(project_id)
            if not project:
                return self.not_found("Project")
            errors = self.project_errors(body, creating=False)
            if errors:
                return self.invalid("The given data was invalid.", errors)
            project.update({k: body[k] for k in ("name", "audio_type") if k in body})
            if "buckets" in body:
                project["buckets"] = self.bucket_refs(body["buckets"])
            project["updated_at"] = iso(self.state.now())
            return {"data": dict(project)}

    async def delete_project(self, project_id: int) -> Any:
        with self.state.lock:
            if self.store.projects.pop(project_id, None) is None:
                return self.not_found("Project")
            return Response(status_code=204)

    async def bucket_status(self, project_id: int) -> Any:
        with self.state.lock:
            project = self.store.projects.get(project_id)
            if not project:
                return self.not_found("Project")
            now, delay = self.state.now(), self.delay()
            out = []
            for ref in project["buckets"]:
                files = self.store.files_in(ref["id"])
                ready = sum(1 for f in files if f.state(now, delay) == 1)
                out.append({"id": ref["id"], "name": ref["name"], "total": len(files), "ready": ready,
                            "processing": sum(1 for f in files if f.state(now, delay) == 0)})
            return {"data": out}

    # ---- Metadata API --------------------------------------------------------------------------
    def track_records(self, q: Any) -> list[dict[str, Any]]:
        isrc, acr_id, text = q.get("isrc"), q.get("acr_id"), (q.get("query") or "").lower()
        found = [
            t for t in self.store.music
            if (isrc and t.get("isrc") == isrc) or (acr_id and t["acrid"] == acr_id)
            or (text and (text in t["title"].lower() or any(text in a["name"].lower() for a in t["artists"])))
        ]
        platforms = (q.get("platforms") or ",".join(_PLATFORM_DEFAULT)).split(",")
        return [
            {"name": t["title"], "acrid": t["acrid"], "isrc": t.get("isrc") or None, "duration_ms": t["duration_ms"],
             "artists": t["artists"], "album": {"name": t["title"]},
             "external_metadata": {p: [{"name": t["title"], "link": f"https://{p}.example/track/{t['acrid']}"}]
                                   for p in platforms}}
            for t in found
        ]

    async def track_metadata(self, request: Request) -> Any:
        q = request.query_params
        given = [k for k in ("source_url", "isrc", "acr_id", "query") if q.get(k)]
        if len(given) != 1:
            return self.invalid("The given data was invalid.", {"query": ["Give one of source_url, isrc, acr_id, query."]})
        if q.get("source_url"):
            return {"data": []}
        with self.state.lock:
            return {"data": self.track_records(q)}

    def add_routes(self, router: APIRouter) -> None:
        router.add_api_route("/api/base-projects", self.create_project, methods=["POST"])
        router.add_api_route("/api/base-projects", self.list_projects, methods=["GET"])
        router.add_api_route("/api/base-projects/{project_id}", self.get_project, methods=["GET"])
        router.add_api_route("/api/base-projects/{project_id}", self.update_project, methods=["PUT"])
        router.add_api_route("/api/base-projects/{project_id}", self.delete_project, methods=["DELETE"])
        router.add_api_route("/api/base-projects/{project_id}/bucket-status", self.bucket_status, methods=["GET"])
        router.add_api_route("/api/external-metadata/tracks", self.track_metadata, methods=["GET"])


__all__ = ["AcrCloudProjectsApi"]
