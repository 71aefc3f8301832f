"""OpenAPI descriptions of our authentication classes (drf-spectacular loads these by import)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "workspaces.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `manage.py createtoken SLUG EMAIL`; it selects the workspace.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "workspaces.authentication.WorkspaceSessionAuthentication"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "Browser login; send X-CSRFToken."}
