"""The OpenAPI schema generator: drf-spectacular's, with the views' documentation attached first.

Everything that generates the schema goes through it (settings.SPECTACULAR_SETTINGS
DEFAULT_GENERATOR_CLASS): the schema and docs views, `manage.py spectacular` and drf-spectacular's
deploy check. Importing this module imports drf_spectacular.openapi, so nothing imports it at
start-up (see forecasts.api.schema.documented).
"""

from drf_spectacular.generators import SchemaGenerator as SpectacularSchemaGenerator

from .schema import attach_documentation


class SchemaGenerator(SpectacularSchemaGenerator):
    def create_view(self, callback, method, request=None):
        """Each view is read here, after the URLconf has imported it: its annotations are
        attached now, before drf-spectacular looks for them."""
        attach_documentation()
        return super().create_view(callback, method, request)
