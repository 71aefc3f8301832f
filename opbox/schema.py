"""OpenAPI post-processing: the error answers every operation can give, documented once here
instead of on each view (drf-spectacular POSTPROCESSING_HOOKS)."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,
}
VALIDATION_SCHEMA = {
    "type": "object",
    "description": "Field name -> messages, or {detail}.",
    "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}, {"type": "object"}]},
}
ERRORS = {
    "400": ("Malformed or invalid input; nothing was changed.", VALIDATION_SCHEMA),
    "401": ("No, invalid or revoked credentials.", ERROR_SCHEMA),
    "403": ("Authenticated, but the role is too low (or no workspace).", ERROR_SCHEMA),
    "404": ("No such object in the caller's workspace.", ERROR_SCHEMA),
    "413": ("Request body too large.", ERROR_SCHEMA),
    "429": ("Too many failed authentications; see Retry-After.", ERROR_SCHEMA),
}


def _response(code):
    description, schema = ERRORS[code]
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def add_error_responses(result, generator, request, public):
    # Our routes take an optional trailing slash; document them as the seed writes them, without it.
    result["paths"] = {path.rstrip("/") or "/": operations for path, operations in result.get("paths", {}).items()}
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            if not operation.get("security") or {} in operation.get("security", []):
                continue  # public operations (the schema itself)
            codes = ["401", "403", "429"]
            if "{" in path:
                codes.append("404")
            if "requestBody" in operation or operation.get("parameters") or method == "post":
                codes.append("400")
            if method in ("post", "patch", "put"):
                codes.append("413")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, _response(code))
    return result
