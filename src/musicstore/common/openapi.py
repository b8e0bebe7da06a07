"""An OpenAPI 3.1 document per service, assembled from pydantic models and a small table of operations.

Request bodies are the models the views validate with (`Model.model_json_schema()` through pydantic's
`models_json_schema`, so every schema lands once under `components/schemas`); answers name a model too, or a
plain JSON Schema for the few that are not objects. Each service declares its operations in a module of its
own (`musicstore.<service>.openapi`) and registers `openapi_blueprint` to serve `GET /openapi.json`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Literal, TypeVar

from flask import Blueprint, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

REF = "#/components/schemas/{model}"
JSON = "application/json"

ADMIN: tuple[dict[str, list[str]], ...] = ({"adminBasic": []},)
"""Admin APIs: HTTP Basic with the admin's credentials."""
INTERNAL: tuple[dict[str, list[str]], ...] = ({"serviceToken": []}, {"adminBasic": []})
"""Internal APIs: the service token, or the admin's credentials for an operator."""
PUBLIC: tuple[dict[str, list[str]], ...] = ()

SECURITY_SCHEMES = {
    "adminBasic": {"type": "http", "scheme": "basic", "description": "ADMIN_USER and ADMIN_PASSWORD"},
    "serviceToken": {"type": "http", "scheme": "bearer", "description": "SERVICE_TOKEN, shared by the services"},
}


T = TypeVar("T")

Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["12.99"])]
"""Money as the APIs answer it: a string with two decimals."""
Timestamp = Annotated[str, Field(examples=["2025-01-31T12:00:00Z"], json_schema_extra={"format": "date-time"})]
"""A time in ISO 8601, UTC."""


class PageOut(BaseModel, Generic[T]):
    """One page of a list (DESIGN.md: `{items, total, page, per_page}`)."""

    model_config = ConfigDict(extra="forbid")

    items: list[T]
    total: int = Field(ge=0, description="How many items the whole list has")
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=100)


class ErrorOut(BaseModel):
    """Every error: a message for people; some errors add fields a program can use."""

    model_config = ConfigDict(extra="allow", title="Error")

    error: str = Field(description="What went wrong, in words a person can act on")


@dataclass(frozen=True)
class Param:
    """A query, path or header parameter."""

    name: str
    where: Literal["query", "path", "header"]
    schema: Mapping[str, Any]
    description: str
    required: bool = False

    def as_openapi(self) -> dict[str, Any]:
        """The parameter object."""
        return {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "description": self.description,
            "schema": dict(self.schema),
        }


PAGE = Param("page", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}, "Page, from 1")
PER_PAGE = Param(
    "per_page", "query", {"type": "integer", "minimum": 1, "default": 20}, "Items per page (1-100; larger is clamped)"
)


@dataclass(frozen=True)
class Answer:
    """One documented response: a description and a body (a model, a JSON Schema, or none)."""

    description: str
    model: type[BaseModel] | None = None
    schema: Mapping[str, Any] | None = None
    media_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description
    required_headers: frozenset[str] = frozenset()
    or_page: bool = False  # a form post (not JSON, not asking for JSON) gets an HTML page instead


@dataclass(frozen=True)
class Body:
    """A request body: the model the view validates with, and the media types it accepts."""

    model: type[BaseModel]
    media_types: Sequence[str] = (JSON,)
    files: Mapping[str, str] = field(default_factory=dict)  # multipart only: file field -> description
    description: str = ""
    example: Mapping[str, Any] | None = None  # a body the service takes (fuzzers start from it)


@dataclass(frozen=True)
class Operation:
    """One method on one path, as a client sees it."""

    method: str
    path: str
    summary: str
    answers: Mapping[int, Answer]
    body: Body | None = None
    params: Sequence[Param] = ()
    security: Sequence[Mapping[str, Sequence[str]]] = PUBLIC
    tag: str = "api"
    description: str = ""

    @property
    def operation_id(self) -> str:
        """A stable id from the method and the path: get_api_album_id."""
        words = self.path.replace("{", "").replace("}", "").replace("-", "_").strip("/").split("/")
        return "_".join([self.method.lower(), *filter(None, words)]) or self.method.lower()


def errors(
    by_status: Mapping[int, str], model: type[BaseModel] = ErrorOut, *, or_page: bool = False
) -> dict[int, Answer]:
    """Error answers ({"error": ...}) by status: errors({404: "No such album"})."""
    return {status: Answer(description, model, or_page=or_page) for status, description in by_status.items()}


def rate_limited(what: str, *, or_page: bool = False) -> dict[int, Answer]:
    """The 429 of a rate limit, with the Retry-After header it always carries."""
    return {
        429: Answer(
            f"Too many attempts ({what}); try again after Retry-After seconds",
            ErrorOut,
            headers={"Retry-After": "Seconds to wait before trying again"},
            required_headers=frozenset({"Retry-After"}),
            or_page=or_page,
        )
    }


TOO_LONG = {
    414: Answer(
        "The request line is longer than the server accepts (4094 bytes): gunicorn refuses it before the service "
        "sees it",
        ErrorOut,
    )
}
"""For operations with text in the query string."""

HEALTHZ_BODY = {
    "type": "object",
    "properties": {"status": {"const": "ok"}, "service": {"type": "string"}},
    "required": ["status", "service"],
}
HEALTHZ = Operation(
    "GET",
    "/healthz",
    "Liveness: the process answers",
    {200: Answer("Alive", schema=HEALTHZ_BODY)},
    tag="operations",
)
READYZ_BODY = {
    "type": "object",
    "properties": {
        "status": {"enum": ["ready", "unavailable"]},
        "database": {"enum": ["up", "down"]},
        "downstreams": {"type": "object", "additionalProperties": {"enum": ["up", "down"]}},
    },
    "required": ["status", "database", "downstreams"],
}
READYZ = Operation(
    "GET",
    "/readyz",
    "Readiness: the service's own database answers (downstreams are reported, not required)",
    {200: Answer("Ready", schema=READYZ_BODY), 503: Answer("The database does not answer", schema=READYZ_BODY)},
    tag="operations",
)
METRICS = Operation(
    "GET",
    "/metrics",
    "Prometheus metrics of this service",
    {200: Answer("Prometheus text exposition format", schema={"type": "string"}, media_type="text/plain")},
    tag="operations",
)
OPENAPI = Operation(
    "GET",
    "/openapi.json",
    "This document",
    {200: Answer("The OpenAPI 3.1 document of this service", schema={"type": "object"})},
    tag="operations",
)
EVERY_SERVICE = (HEALTHZ, READYZ, METRICS, OPENAPI)
"""The operations every service has."""


class _Schemas:
    """Every model's JSON Schema, generated together so that each lands once under components/schemas."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
        for op in operations:
            if op.body is not None:
                wanted[(op.body.model, "validation")] = None
            for answer in op.answers.values():
                if answer.model is not None:
                    wanted[(answer.model, "serialization")] = None
        refs, definitions = models_json_schema(list(wanted), ref_template=REF)
        self.refs = refs
        self.components: dict[str, Any] = definitions.get("$defs", {})

    def of(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        """A reference to a model's schema."""
        return dict(self.refs[(model, mode)])

    def inline(self, model: type[BaseModel]) -> dict[str, Any]:
        """A copy of a request model's own schema (to extend it, e.g. with a file field)."""
        ref = self.of(model, "validation")["$ref"]
        schema: dict[str, Any] = dict(self.components[ref.rsplit("/", 1)[-1]])
        schema["properties"] = dict(schema.get("properties", {}))
        return schema


def _request_body(body: Body, schemas: _Schemas) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for media_type in body.media_types:
        if media_type == "multipart/form-data" and body.files:
            schema = schemas.inline(body.model)
            for name, description in body.files.items():
                schema["properties"][name] = {
                    "type": "string",
                    "format": "binary",
                    "contentMediaType": "application/octet-stream",
                    "description": description,
                }
            content[media_type] = {"schema": schema}
        else:
            content[media_type] = {"schema": schemas.of(body.model, "validation")}
        if body.example is not None and media_type == JSON:
            content[media_type]["example"] = dict(body.example)
    answer = {"required": True, "content": content}
    if body.description:
        answer["description"] = body.description
    return answer


def _response(answer: Answer, schemas: _Schemas) -> dict[str, Any]:
    response: dict[str, Any] = {"description": answer.description}
    if answer.model is not None:
        response["content"] = {answer.media_type: {"schema": schemas.of(answer.model, "serialization")}}
    elif answer.schema is not None:
        response["content"] = {answer.media_type: {"schema": dict(answer.schema)}}
    if answer.or_page:
        response.setdefault("content", {})["text/html"] = {"schema": {"type": "string"}}
    if answer.headers:
        response["headers"] = {
            name: {"description": text, "required": name in answer.required_headers, "schema": {"type": "string"}}
            for name, text in answer.headers.items()
        }
    return response


def _operation(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": [dict(s) for s in op.security],
        "responses": {str(status): _response(a, schemas) for status, a in sorted(op.answers.items())},
    }
    if op.description:
        document["description"] = op.description
    if op.params:
        document["parameters"] = [p.as_openapi() for p in op.params]
    if op.body is not None:
        document["requestBody"] = _request_body(op.body, schemas)
    return document


def build_document(*, title: str, version: str, description: str, operations: Sequence[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these operations."""
    schemas = _Schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": SECURITY_SCHEMES},
    }


def openapi_blueprint(build: Callable[[], dict[str, Any]]) -> Blueprint:
    """A blueprint serving `GET /openapi.json`, built once per app on first use."""
    bp = Blueprint("openapi", __name__)

    @bp.get("/openapi.json")
    def document() -> Response:
        """The service's OpenAPI document."""
        cached = current_app.extensions.get("openapi_document")
        if cached is None:
            cached = current_app.extensions["openapi_document"] = build()
        return jsonify(cached)

    return bp
