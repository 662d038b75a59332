"""The OpenAPI 3.1 document of the JSON API, written as data (tests/test_web_api.py validates
it against the OpenAPI schema and checks that every route it names answers).

>>> doc = document("https://trace.example.gov.cn")
>>> doc["openapi"], sorted(doc["paths"])[:2]
('3.1.0', ['/api/v1/approvals/{number}', '/api/v1/codes/{code}'])
"""
from __future__ import annotations

from .. import __version__
from . import epcis_openapi

_ERROR = {"$ref": "#/components/schemas/Error"}
_LINKS = {"application/json": {"schema": {"$ref": "#/components/schemas/Links"}}}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


_LIMITED = {"description": "Too many queries from this address (or about this product): "
                           "wait Retry-After seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
            "content": {"application/json": {"schema": _ERROR}}}

_LANG = {"name": "lang", "in": "query", "required": False,
         "description": "the language of the words in the answer (else the lang cookie, then "
                        "Accept-Language; Chinese by default)",
         "schema": {"type": "string", "enum": ["zh", "en"]}}

_LINK = {
    "type": "object", "required": ["link_type", "href"],
    "properties": {
        "link_type": {"type": "string", "description": "a GS1 Web Vocabulary link type",
                      "examples": ["gs1:pip", "gs1:certificationInfo", "gs1:recallStatus"]},
        "href": {"type": "string", "format": "uri", "description": "an http(s) URL"},
        "title": {"type": "string"},
        "lang": {"type": "array", "items": {"type": "string"}, "description": "BCP 47 tags"},
        "media_type": {"type": "string"},
        "default": {"type": "boolean", "description": "its type's default (when no language matches)"},
    },
}

_ANSWER = {
    "type": "object",
    "description": "What the public page shows, as data. Fields the caller may not see are null "
                   "(what the public sees is configured per category).",
    "required": ["verdict", "verdict_text", "genuine", "found", "warnings"],
    "properties": {
        "code": {"type": ["string", "null"]},
        "scheme": {"type": ["string", "null"]},
        "category": {"type": ["string", "null"]},
        "verdict": {"type": "string", "enum": ["genuine", "not_found", "not_in_circulation", "recalled",
                                               "expired", "destroyed", "sold", "suspicious", "not_one_pack",
                                               "controlled_item"]},
        "verdict_text": {"type": "string"},
        "verdict_note": {"type": "string"},
        "genuine": {"type": "boolean"},
        "found": {"type": "boolean"},
        "product": {"type": ["object", "null"]},
        "company": {"type": ["string", "null"]},
        "approval": {"type": ["object", "null"]},
        "lot": {"type": ["string", "null"]},
        "production_date": {"type": ["string", "null"]},
        "expiry": {"type": ["string", "null"]},
        "scan_count": {"type": ["integer", "null"]},
        "first_scan_time": {"type": ["string", "null"]},
        "first_scan_place": {"type": ["string", "null"],
                             "description": "the region (GB/T 2260 table) of the first public query"},
        "first_scan_region": {"type": ["string", "null"], "description": "its 6-digit GB/T 2260 code"},
        "scan_count_more": {"type": "boolean", "description": "scan_count is a bound: more public queries"},
        "label_differences": {"type": "array", "items": {"type": "object"}},
        "warnings": {"type": "array", "items": {"type": "object"}},
    },
}


def document(base_url: str) -> dict:
    code_param = {"name": "code", "in": "path", "required": True,
                  "description": "a code of any scheme the platform reads (a 20-digit drug code, a "
                                 "24-digit veterinary code, a 32-digit pesticide code, a GS1 element "
                                 "string) or a label's whole QR payload, percent-encoded",
                  "schema": {"type": "string", "maxLength": 4096}}
    key_param = {"name": "key", "in": "path", "required": True,
                 "description": "a product's link key: 01/<GTIN>, 01/<GTIN>/10/<lot> or "
                                "<scheme>/<product fields>",
                 "schema": {"type": "string", "maxLength": 128}}
    links_body = {"type": "object", "required": ["key", "links"],
                  "properties": {"key": {"type": "string"},
                                 "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "tracecode public trace-code API", "version": __version__,
                 "description": "The public one-stop query window as JSON: whether a product's code "
                                "is genuine, what its label and the registry say; the links of "
                                "products (GS1 Digital Link resolver targets). Queries without a "
                                "token are public and rate-limited per address; a bearer token of "
                                "an enterprise or regulator shows more."},
        "servers": [{"url": base_url.rstrip("/")}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["status", "reason", "message"],
                    "properties": {"status": {"type": "integer"}, "reason": {"type": "string"},
                                   "field": {"type": "string"}, "message": {"type": "string"}}}}},
                "Answer": _ANSWER,
                "Approval": {"type": "object", "description": "an approval or registration number: "
                             "holder, products, validity"},
                "Link": _LINK,
                "Links": links_body,
                **epcis_openapi.schemas(),
            },
        },
        "security": [{}, {"bearer": []}],
        "paths": {
            "/api/v1/codes/{code}": {"get": {
                "operationId": "getCode", "summary": "verify one code (recorded as a public query)",
                "parameters": [code_param, _LANG,
                               {"name": "place", "in": "query", "required": False,
                                "description": "a coarse region (city or province) the query is "
                                               "recorded under; otherwise 'public'",
                                "schema": {"type": "string", "maxLength": 256}}],
                "responses": {
                    "200": {"description": "the answer",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}}},
                    "400": _error("an unreadable code or scan"),
                    "401": _error("a bad or revoked token"),
                    "429": _LIMITED}}},
            "/api/v1/approvals/{number}": {"get": {
                "operationId": "getApproval", "summary": "look an approval or registration number up",
                "parameters": [{"name": "number", "in": "path", "required": True,
                                "schema": {"type": "string", "maxLength": 512}}, _LANG],
                "responses": {
                    "200": {"description": "the approval",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Approval"}}}},
                    "400": _error("not an approval number"),
                    "404": _error("not in the registry"),
                    "501": _error("the platform has no registry"),
                    "429": _LIMITED}}},
            "/api/v1/links/{key}": {
                "get": {"operationId": "getLinks", "summary": "the links of a product (public)",
                        "parameters": [key_param],
                        "responses": {
                            "200": {"description": "the links",
                                    "content": _LINKS},
                            "400": _error("not a link key"), "404": _error("unknown scheme"),
                            "429": _LIMITED}},
                "put": {"operationId": "setLinks", "summary": "replace the links of a product (an "
                                                              "admin or the product's issuer)",
                        "security": [{"bearer": []}],
                        "parameters": [key_param],
                        "requestBody": {"required": True, "content": {"application/json": {"schema": {
                            "type": "object", "required": ["links"], "properties": {
                                "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}}}}},
                        "responses": {
                            "200": {"description": "the links as stored",
                                    "content": _LINKS},
                            "400": _error("a link or the key is invalid"),
                            "401": _error("no token, or a bad one"),
                            "403": _error("not an admin nor the product's issuer"),
                            "413": _error("the body is too large"),
                            "415": _error("the body is not JSON")}}},
            "/api/v1/openapi.json": {"get": {
                "operationId": "getOpenAPI", "summary": "this document",
                "responses": {"200": {"description": "the OpenAPI document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/healthz": {"get": {
                "operationId": "health", "summary": "liveness",
                "responses": {"200": {"description": "serving",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            **epcis_openapi.paths(),     # the EPCIS 2.0 REST binding (web/epcis.py)
        },
    }
