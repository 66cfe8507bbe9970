"""The stack's OpenAPI document, checked by an independent validator (openapi-spec-validator)."""

import json
import urllib.request

from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator


def test_the_served_document_is_valid_openapi_3_1(stack):
    url, _ = stack
    with urllib.request.urlopen(f"{url}/openapi.json") as response:
        document = json.load(response)
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)
    assert "/v2/storage/tables/{id}/import-async" in document["paths"]
